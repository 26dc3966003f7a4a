package node

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/console"
	"github.com/morozhq/moroz/internal/chrometest"
	"github.com/morozhq/moroz/store"
)

// A supervisor starts, pauses and resumes a mailing on the wallboard and
// watches its progress bar move with the letters the relay takes.
func TestMailingProgressInTheBrowser(t *testing.T) {
	const contacts = 16
	page := chrometest.Start(t, 1440, 1100)
	ctx := context.Background()
	relay := newCountingRelay(t)
	cfg := testConfig(t)
	cfg.Mail.Domains = []string{"ded-moroz.test"}
	cfg.Mail.Relay.Addr = relay.addr
	r := runNode(t, cfg)
	defer r.close(t)
	st := r.n.Store()
	for i := range contacts {
		addr := fmt.Sprintf("kid%d@example.org", i)
		c, err := st.ResolveContact(ctx, store.Identity{Kind: "email", Value: addr}, fmt.Sprintf("Kid %d", i))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.CreateItem(ctx, store.Item{Channel: acd.Email, Queue: "letters", ContactID: c.ID,
			ExternalID: addr}, store.Event{Type: "created"}); err != nil {
			t.Fatal(err)
		}
	}
	tp, err := st.PutTemplate(ctx, store.Template{Name: "greeting", Lang: "ru", Subject: "С Новым годом!", Body: "{{name}}, ура!"})
	if err != nil {
		t.Fatal(err)
	}
	token, err := console.CreateToken(ctx, st, store.RoleSupervisor, "script")
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ Mailing struct{ ID int64 } }
	// 300 a minute: a letter every 200 ms, slow enough to pause midway.
	draft := console.MailingDraft{Name: "С Новым годом", TemplateID: tp.ID, Since: time.Now().Add(-time.Hour), RatePerMin: 300}
	if code := api(t, r.n, token, "POST", "/api/v1/mailings", draft, &created); code != http.StatusCreated {
		t.Fatalf("POST /api/v1/mailings: %d", code)
	}
	if _, err := console.AddUser(ctx, st, "ded", "Дед Мороз", store.RoleSupervisor, "password-ded"); err != nil {
		t.Fatal(err)
	}

	row := fmt.Sprintf(`#mailings tr[data-mailing="%d"]`, created.Mailing.ID)
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(page, actions...); err != nil {
			shot(t, page, "failed-"+name)
			t.Fatalf("%s: %v", name, err)
		}
	}
	until := func(name, js string) {
		t.Helper()
		if _, err := chromedp.Run(page, chromedp.Poll[bool](js, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
			shot(t, page, "failed-"+name)
			t.Fatalf("%s: %v", name, err)
		}
	}
	// progress is the row's bar and count as the page shows them.
	progress := func() (shown struct{ Value, Max, Sent, Total int }) {
		t.Helper()
		js := fmt.Sprintf(`(() => { const r = document.querySelector(%q); const p = r.querySelector('progress');
			const c = r.querySelector('[data-sent]');
			return {Value: p.value, Max: p.max, Sent: +c.dataset.sent, Total: +c.dataset.total}; })()`, row)
		shown, err := chromedp.Run(page, chromedp.Evaluate[struct{ Value, Max, Sent, Total int }](js))
		if err != nil {
			t.Fatal(err)
		}
		return shown
	}

	url := "http://" + r.n.Addr("http") + "/"
	step("log in", chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`#login-submit`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=login]`), "ded"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "password-ded"),
		chromedp.Click(chromedp.CSS(`#login-submit`)), chromedp.WaitVisible(chromedp.CSS(`#status`)))
	until("the draft is listed", fmt.Sprintf(`!!document.querySelector('%s[data-state="draft"] button[data-op="start"]')`, row))

	step("start", chromedp.Click(chromedp.CSS(row+` button[data-op="start"]`)))
	until("letters go out", fmt.Sprintf(`(() => { const r = document.querySelector('%s[data-state="running"]');
		return !!r && r.querySelector('progress').value >= 3; })()`, row))
	step("pause", chromedp.Click(chromedp.CSS(row+` button[data-op="pause"]`)))
	until("paused", fmt.Sprintf(`!!document.querySelector('%s[data-state="paused"] button[data-op="resume"]')`, row))
	// A letter handed over before the pause may still be reported: wait
	// until the page shows what the relay took.
	var paused struct{ Value, Max, Sent, Total int }
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) { // a hang guard
		paused = progress()
		if paused.Sent == relay.total() || time.Now().After(deadline) {
			break
		}
	}
	if got := relay.total(); got != paused.Sent {
		t.Errorf("paused: the page shows %d sent, the relay took %d", paused.Sent, got)
	}
	if paused.Value <= 0 || paused.Value >= contacts || paused.Max != contacts || paused.Sent != paused.Value ||
		paused.Total != contacts {
		t.Errorf("paused: the page shows bar %d of %d and count %d of %d; want the same count, midway, of %d",
			paused.Value, paused.Max, paused.Sent, paused.Total, contacts)
	}
	shot(t, page, "mailing-paused")

	step("resume", chromedp.Click(chromedp.CSS(row+` button[data-op="resume"]`)))
	until("done", fmt.Sprintf(`!!document.querySelector('%s[data-state="done"]')`, row))
	done := progress()
	if done.Value != contacts || done.Sent != contacts || done.Total != contacts {
		t.Errorf("done: the page shows bar %d, count %d of %d; want %d of %d", done.Value, done.Sent, done.Total, contacts, contacts)
	}
	if got := relay.total(); got != contacts {
		t.Errorf("the relay took %d letters, want %d", got, contacts)
	}
	shot(t, page, "mailing-done")
}

// shot saves a screenshot of the whole page under the test's artifacts.
func shot(t *testing.T, page context.Context, name string) {
	t.Helper()
	buf, err := chromedp.Run(page, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(chrometest.Artifacts(t), name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
	}
}

// total is how many letters the relay took.
func (s *countingRelay) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.got {
		n += c
	}
	return n
}
