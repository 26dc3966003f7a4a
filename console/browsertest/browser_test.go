package browsertest

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/console"
	"github.com/morozhq/moroz/internal/chrometest"
	"github.com/morozhq/moroz/logging"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/work"
)

// site is a console with the real store and work service behind it.
type site struct {
	url   string
	store store.Store
	work  *work.Service
}

func newSite(t *testing.T) *site { return buildSite(t, nil) }

// addOn runs more of the node beside a site's console: it adds to the
// console's options and returns what to do once the console is built, and
// what to close before the work service.
type addOn func(s *site, opt *console.Options) (built func(*console.Server), closer func())

// buildSite is newSite with add, when not nil, beside the console.
func buildSite(t *testing.T, add addOn) *site {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	queues := work.DefaultQueues()
	for i := range queues {
		queues[i].WrapUp = map[acd.Channel]time.Duration{acd.Email: 10 * time.Minute} // ended by the helper
	}
	w, err := work.New(ctx, work.Options{Store: st, Logger: logging.Discard(), Router: acd.Config{Queues: queues}})
	if err != nil {
		t.Fatal(err)
	}
	s := &site{store: st, work: w}
	opt := console.Options{Store: st, Logger: logging.Discard(), Desk: w, Live: w.Live}
	built, closer := func(*console.Server) {}, func() {}
	if add != nil {
		built, closer = add(s, &opt)
	}
	c, err := console.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	built(c)
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(func() {
		c.Close()
		srv.Close()
		closer()
		w.Close()
		st.Close()
	})
	s.url = srv.URL
	return s
}

func (s *site) user(t *testing.T, login, name string, role store.Role) store.User {
	t.Helper()
	u, err := console.AddUser(context.Background(), s.store, login, name, role, "password-"+login)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// browser starts headless Chromium; each page it opens gets its own
// browser context (its own cookies).
func browser(t *testing.T) context.Context { return chrometest.Start(t, 1440, 900) }

// page is one browser tab of its own browser context.
type page struct {
	t      *testing.T
	ctx    context.Context
	cancel context.CancelFunc // closes the tab
	dir    string
	who    string
}

func newPage(t *testing.T, root context.Context, who string) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	return &page{t: t, ctx: ctx, cancel: cancel, dir: artifacts(t), who: who}
}

func artifacts(t *testing.T) string { return chrometest.Artifacts(t) }

func (p *page) run(step string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.shot("failed-" + p.who + "-" + step)
		p.t.Fatalf("%s: %s: %v", p.who, step, err)
	}
}

// shot saves a screenshot of the whole page as NAME.png.
func (p *page) shot(name string) {
	p.t.Helper()
	buf, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(p.dir, name+".png"), buf, 0o644); err != nil {
		p.t.Errorf("screenshot %s: %v", name, err)
	}
}

// until waits for a JavaScript expression to become true.
func (p *page) until(step, js string) {
	p.t.Helper()
	wait := chromedp.Poll[bool](js, chromedp.WithPollingInterval(50*time.Millisecond))
	if _, err := chromedp.Run(p.ctx, wait); err != nil {
		p.shot("failed-" + p.who + "-" + step)
		p.t.Fatalf("%s: %s: %v", p.who, step, err)
	}
}

// choose sets a select's value as a person would, firing its change event.
func choose(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const el = document.querySelector(%q);
		el.value = %q; el.dispatchEvent(new Event('change')); })()`, sel, value))
}

// press finds the element sel and clicks it in one step in the page, for
// elements a live panel re-renders: between chromedp.Click's finding the
// node and its click the wallboard may have replaced it.
func press(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const el = document.querySelector(%q);
		if (!el) throw new Error('no element ' + %q); el.click(); })()`, sel, sel))
}

func css(s string) chromedp.CSS { return chromedp.CSS(s) }

func (p *page) login(url, login string) {
	p.t.Helper()
	p.run("open the login page", chromedp.Navigate(url), chromedp.WaitVisible(css(`#login-submit`)))
	p.run("log in", chromedp.SendKeys(css(`input[name=login]`), login),
		chromedp.SendKeys(css(`input[name=password]`), "password-"+login),
		chromedp.Click(css(`#login-submit`)), chromedp.WaitVisible(css(`#status`)))
}

// eval runs JavaScript (awaiting a promise it returns) and decodes the
// result into T.
func eval[T any](p *page, js string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("%s: evaluate %s: %v", p.who, js, err)
	}
	return v
}
