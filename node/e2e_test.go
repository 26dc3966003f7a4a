package node

import (
	"context"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/morozhq/moroz/console"
	"github.com/morozhq/moroz/internal/chrometest"
	"github.com/morozhq/moroz/logging"
	"github.com/morozhq/moroz/store"
)

// The whole node as a person meets it: a child's letter arrives over
// SMTP, a helper answers it in the browser console, and the answer leaves
// through the relay in the letter's thread.
func TestLetterAnsweredInTheBrowser(t *testing.T) {
	page := chrometest.Start(t, 1440, 900)
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
		os.WriteFile(filepath.Join(chrometest.Artifacts(t), "e2e-letter-answered.png"), shot, 0o644)
	}

	answer := string(relay.next(t))
	for _, want := range []string{"In-Reply-To: <wish-2@example.org>", "masha@example.org"} {
		if !strings.Contains(answer, want) {
			t.Errorf("the answer that left lacks %q:\n%s", want, answer)
		}
	}
}
