package consolecheck

// This test drives Debian's Chromium (headless, through chromedp): a
// visitor on a site's page that embeds the chat widget, and a helper at the
// console's desk, both on the real store, work service, messenger and
// console, wired as a node wires them.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/console"
	"github.com/morozhq/moroz/logging"
	"github.com/morozhq/moroz/messenger"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/work"
)

// chatSite is Moroz (console with the messenger mounted) and a site page
// embedding the widget, on two origins.
type chatSite struct {
	moroz, page string
	store       store.Store
	work        *work.Service
}

func newChatSite(t *testing.T) *chatSite {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w, err := work.New(ctx, work.Options{Store: st, Logger: logging.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	var morozURL string
	page := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(rw, `<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>Вотчина</title>
<script src="%s/chat/widget.js" defer></script></head><body><h1>Вотчина Деда Мороза</h1></body></html>`, morozURL)
	}))
	t.Cleanup(page.Close)
	m, err := messenger.New(messenger.Options{Store: st, Work: w, Logger: logging.Discard(), DataDir: dir,
		Config: messenger.Config{AllowedOrigins: []string{page.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	c, err := console.New(console.Options{Store: st, Logger: logging.Discard(), Desk: w, Live: w.Live,
		Mounts: m.Routes(), CrossOrigin: m.CrossOrigin(), Typing: m})
	if err != nil {
		t.Fatal(err)
	}
	m.OnVisitorTyping(func(helperID, itemID int64) { c.SendTyping(helperID, itemID) })
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(func() {
		srv.Close()
		c.Close()
	})
	morozURL = srv.URL
	return &chatSite{moroz: srv.URL, page: page.URL, store: st, work: w}
}

// tab is one browser tab with its own cookies.
type tab struct {
	t   *testing.T
	ctx context.Context
	dir string
	who string
}

func browserTabs(t *testing.T, who ...string) []*tab {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("MOROZ_REQUIRE_PEERS") == "1" {
			t.Fatal("chromium is required (MOROZ_REQUIRE_PEERS=1) but not installed")
		}
		t.Skip("chromium not installed")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 800),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a hang guard
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	root, cancelRoot := chromedp.NewContext(alloc)
	t.Cleanup(cancelRoot)
	if err := chromedp.Do(root); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	dir := os.Getenv("MOROZ_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var tabs []*tab
	for _, w := range who {
		tctx, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		tabs = append(tabs, &tab{t: t, ctx: tctx, dir: dir, who: w})
	}
	return tabs
}

func (p *tab) run(step string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.shot("failed-" + step)
		p.t.Fatalf("%s: %s: %v", p.who, step, err)
	}
}

func (p *tab) until(step, js string) {
	p.t.Helper()
	wait := chromedp.Poll[bool](js, chromedp.WithPollingInterval(50*time.Millisecond))
	if _, err := chromedp.Run(p.ctx, wait); err != nil {
		p.shot("failed-" + step)
		p.t.Fatalf("%s: %s: %v", p.who, step, err)
	}
}

func (p *tab) shot(name string) {
	p.t.Helper()
	buf, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(filepath.Join(p.dir, "typing-"+p.who+"-"+name+".png"), buf, 0o644)
	}
	if err != nil {
		p.t.Errorf("screenshot %s: %v", name, err)
	}
}

func TestTypingIndicatorsBetweenWidgetAndDesk(t *testing.T) {
	ctx := context.Background()
	s := newChatSite(t)
	elf, err := console.AddUser(ctx, s.store, "elf", "Эльф", store.RoleHelper, "password-elf")
	if err != nil {
		t.Fatal(err)
	}
	tabs := browserTabs(t, "visitor", "elf")
	visitor, desk := tabs[0], tabs[1]

	desk.run("log in", chromedp.Navigate(s.moroz), chromedp.WaitVisible(chromedp.CSS(`#login-submit`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=login]`), "elf"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "password-elf"),
		chromedp.Click(chromedp.CSS(`#login-submit`)), chromedp.WaitVisible(chromedp.CSS(`#status`)))
	desk.run("go available", chromedp.Evaluate[chromedp.Void](`(() => { const el = document.querySelector('#status');
		el.value = 'available'; el.dispatchEvent(new Event('change')); })()`))
	desk.until("available", `document.querySelector('#status').value === 'available' && !!document.querySelector('.offer.empty')`)

	visitor.run("open the site", chromedp.Navigate(s.page), chromedp.WaitVisible(chromedp.CSS(`.moroz-chat input[name=text]`)))
	visitor.until("socket open", `document.querySelector('.moroz-chat .moroz-status').textContent === ''`)
	visitor.run("ask for a person", chromedp.SendKeys(chromedp.CSS(`.moroz-chat input[name=text]`), "Позовите человека"),
		chromedp.Click(chromedp.CSS(`.moroz-chat .moroz-input button`)))

	desk.until("offered", `!!document.querySelector('#accept')`)
	desk.run("accept", chromedp.Click(chromedp.CSS(`#accept`)))
	desk.until("the chat open", `!!document.querySelector('#reply-text') && !!document.querySelector('#typing-note')`)
	visitor.until("with a helper", `document.querySelector('.moroz-chat').dataset.position === ''`)

	visitor.run("type", chromedp.SendKeys(chromedp.CSS(`.moroz-chat input[name=text]`), "Я хочу"))
	desk.until("the visitor is typing", `!document.querySelector('#typing-note').hidden &&
		!!document.querySelector('#my-items li.typing')`)
	desk.shot("visitor-typing")

	desk.run("type a reply", chromedp.SendKeys(chromedp.CSS(`#reply-text`), "Здравствуй"))
	visitor.until("the helper is typing", `!document.querySelector('.moroz-chat .moroz-typing').classList.contains('moroz-hidden')`)
	visitor.shot("helper-typing")

	items, err := s.store.ListItems(ctx, store.ItemFilter{Channel: acd.Chat})
	if err != nil || len(items) != 1 || items[0].HelperID != elf.ID {
		t.Errorf("chat items %+v (%v), want one held by elf", items, err)
	}
}
