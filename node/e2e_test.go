package node

import (
	"context"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/morozhq/moroz/console"
	"github.com/morozhq/moroz/logging"
	"github.com/morozhq/moroz/store"
)

// The whole node as a person meets it: a child's letter arrives over
// SMTP, a helper answers it in the browser console, and the answer leaves
// through the relay in the letter's thread.
func TestLetterAnsweredInTheBrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("MOROZ_REQUIRE_PEERS") == "1" {
			t.Fatal("chromium is required (MOROZ_REQUIRE_PEERS=1) but not installed")
		}
		t.Skip("chromium not installed (Debian package chromium)")
	}
	ctx := context.Background()
	relay := newRelaySink(t)
	cfg := testConfig(t)
	cfg.Mail.Domains = []string{"ded-moroz.test"}
	cfg.Mail.Relay.Addr = relay.addr
	n, err := New(ctx, cfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.Run(runCtx) }()
	defer func() {
		cancel()
		<-done
	}()
	if _, err := console.AddUser(ctx, n.Store(), "snegurochka", "Снегурочка", store.RoleHelper, "password-snegurochka"); err != nil {
		t.Fatal(err)
	}

	page := openBrowser(t, chromium)
	url := "http://" + n.Addr("http") + "/"
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(page, actions...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	until := func(name, js string) {
		t.Helper()
		if _, err := chromedp.Run(page, chromedp.Poll[bool](js, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	step("log in", chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`#login-submit`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=login]`), "snegurochka"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "password-snegurochka"),
		chromedp.Click(chromedp.CSS(`#login-submit`)), chromedp.WaitVisible(chromedp.CSS(`#status`)))
	step("go available", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#status');
		s.value = 'available'; s.dispatchEvent(new Event('change')); })()`))
	until("available", `document.querySelector('#status').value === 'available' && !!document.querySelector('.offer.empty')`)

	letter := "From: Маша <masha@example.org>\r\nTo: ded@ded-moroz.test\r\nSubject: Хочу санки\r\n" +
		"Message-ID: <wish-2@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nДорогой Дедушка Мороз, хочу санки.\r\n"
	if err := smtp.SendMail(n.Addr("smtp"), nil, "masha@example.org", []string{"ded@ded-moroz.test"}, []byte(letter)); err != nil {
		t.Fatalf("send the letter: %v", err)
	}
	until("offer shown", `!!document.querySelector('#offer') && document.querySelector('#offer').textContent.includes('Хочу санки')`)
	step("accept", chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierAlt)))
	until("letter open", `!!document.querySelector('#item-view .msg.in')`)
	step("write", chromedp.SendKeys(chromedp.CSS(`#reply-text`), "Будут тебе санки, Маша!"))
	step("send", chromedp.Click(chromedp.CSS(`#reply-text`)), chromedp.KeyEvent("\r", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	until("reply in the thread", `!!document.querySelector('#item-view .msg.out')`)
	if shot, err := chromedp.Run(page, chromedp.FullScreenshot(100)); err == nil {
		os.WriteFile(filepath.Join(artifactDir(t), "e2e-letter-answered.png"), shot, 0o644)
	}

	answer := string(relay.next(t))
	for _, want := range []string{"In-Reply-To: <wish-2@example.org>", "masha@example.org"} {
		if !strings.Contains(answer, want) {
			t.Errorf("the answer that left lacks %q:\n%s", want, answer)
		}
	}
}

func openBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1440, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	page, cancelPage := chromedp.NewContext(alloc)
	t.Cleanup(cancelPage)
	return page
}

func artifactDir(t *testing.T) string {
	if dir := os.Getenv("MOROZ_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err == nil {
			return dir
		}
	}
	return t.TempDir()
}
