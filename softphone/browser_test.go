package softphone_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pion/rtp"

	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/softphone"
	"github.com/morozhq/moroz/voice"
)

// browser starts headless Chromium whose fake microphone plays browserHz.
func browser(t *testing.T) context.Context {
	t.Helper()
	return browserWith(t, browserHz)
}

// browserWith starts headless Chromium whose fake microphone plays micHz.
func browserWith(t *testing.T, micHz float64) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("MOROZ_REQUIRE_PEERS") == "1" {
			t.Fatal("chromium is required (MOROZ_REQUIRE_PEERS=1) but not installed")
		}
		t.Skip("chromium not installed")
	}
	mic := filepath.Join(t.TempDir(), "mic.wav")
	if err := media.WriteWAV(mic, sine(micHz, time.Minute)); err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 800),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-audio-capture", mic),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	root, cancelRoot := chromedp.NewContext(alloc)
	t.Cleanup(cancelRoot)
	if err := chromedp.Do(root); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return root
}

func artifacts(t *testing.T) string {
	if dir := os.Getenv("MOROZ_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// tab is one browser tab of a helper.
type tab struct {
	t      *testing.T
	ctx    context.Context
	cancel context.CancelFunc
	dir    string
}

func newTab(t *testing.T, root context.Context) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext()) // cookies of its own
	t.Cleanup(cancel)
	// Open the tab under its own context: steps run under shorter ones,
	// and the context a tab is first used with owns it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return &tab{t: t, ctx: ctx, cancel: cancel, dir: artifacts(t)}
}

func (p *tab) run(step string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.shot("failed-" + step)
		p.t.Fatalf("%s: %v", step, err)
	}
}

func (p *tab) shot(name string) {
	p.t.Helper()
	buf, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(p.dir, "softphone-"+name+".png"), buf, 0o644); err != nil {
		p.t.Errorf("screenshot %s: %v", name, err)
	}
}

// until waits for a JavaScript expression to become true.
func (p *tab) until(step, js string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	wait := chromedp.Poll[bool](js, chromedp.WithPollingInterval(50*time.Millisecond))
	if _, err := chromedp.Run(ctx, wait); err != nil {
		p.shot("failed-" + step)
		p.t.Fatalf("%s: %v", step, err)
	}
}

func eval[T any](p *tab, js string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func (p *tab) login(url, login string) {
	p.t.Helper()
	p.run("open the login page", chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`#login-submit`)))
	p.run("log in", chromedp.SendKeys(chromedp.CSS(`input[name=login]`), login),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "password-"+login),
		chromedp.Click(chromedp.CSS(`#login-submit`)), chromedp.WaitVisible(chromedp.CSS(`#status`)))
	p.until("phone ready", `!!(window.moroz && window.moroz.phone && window.moroz.phone.ready)`)
}

// click presses the button sel. The call panel redraws itself every
// second (its timer), so a node found by one DevTools call may be gone by
// the next: the button is found and clicked in one step, in the page.
func (p *tab) click(step, sel string) {
	p.t.Helper()
	p.run(step, chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).click()`, sel)))
}

// hears is a JavaScript test that the browser hears freq loudly.
func hears(freq float64) string {
	return fmt.Sprintf(`(() => { const c = [...window.moroz.phone.calls.values()][0];
		const d = window.moroz.phone.dominant(c); return d.db > -60 && Math.abs(d.hz - %f) < 50; })()`, freq)
}

type dialed struct {
	leg *softphone.Leg
	err error
}

func dial(r *rig, helper int64, c *caller, ctx context.Context) <-chan dialed {
	out := make(chan dialed, 1)
	go func() {
		l, err := r.phone.Dial(ctx, softphone.Target(helper), c)
		out <- dialed{l, err}
	}()
	return out
}

// A call rings in the helper's browser, the helper answers, and the call
// is bridged to the caller's leg: each side hears the other's tone, the
// helper's keys reach the caller as RFC 4733 events and the leg's DTMF,
// hold gives the caller the hold music with one unbroken RTP stream, a
// reload re-attaches the audio and a closed tab ends the leg as lost.
func TestBrowserTalksToCaller(t *testing.T) {
	r := newRig(t)
	helper := r.helper(t, "snegurochka")
	p := newTab(t, browser(t))
	p.login(r.url, "snegurochka")

	c := newCaller(t, "call-talk@test")
	res := dial(r, helper, c, context.Background())
	p.until("the call rings", `!!document.querySelector('#phone-answer')`)
	p.shot("ringing")
	p.click("answer", `#phone-answer`)
	d := <-res
	if d.err != nil {
		t.Fatalf("dial: %v", d.err)
	}
	leg := d.leg
	bctx, stopBridge := context.WithCancel(context.Background())
	bridged := make(chan error, 1)
	go func() { bridged <- c.leg.Bridge(bctx, leg.Media()) }()
	t.Cleanup(func() { stopBridge(); <-bridged })

	t.Run("browser hears the caller", func(t *testing.T) {
		p.until("browser hears the caller's tone", hears(callerHz))
		p.until("the level meter moves", `parseFloat(document.querySelector('.meter-bar').style.width) > 20`)
		p.shot("talking")
	})
	t.Run("caller hears the browser", func(t *testing.T) {
		c.awaitTone(t, "browser's microphone", browserHz, 10, 0)
	})
	t.Run("dtmf from the browser", func(t *testing.T) {
		from := c.count()
		p.click("press 5", `.keypad [data-key="5"]`)
		if got := c.awaitDTMF(t, from); got != 5 {
			t.Errorf("caller's telephone-event: got event %d, want 5", got)
		}
		select {
		case k := <-leg.DTMF():
			if k.Digit != '5' {
				t.Errorf("leg's DTMF: got %q, want '5'", k.Digit)
			}
		case <-time.After(10 * time.Second):
			t.Error("leg's DTMF: no key arrived")
		}
	})
	t.Run("hold and resume", func(t *testing.T) {
		from := c.count()
		p.click("hold", `#phone-hold`)
		p.until("held", `!!document.querySelector('.call.held')`)
		c.awaitTone(t, "hold music", holdHz, 10, from)
		p.shot("held")
		// The second after the hold music was heard is "while held"; what
		// came between the click and the switch is not (under load the
		// click takes a while to reach the server).
		held := c.awaitPackets(t, c.count(), 50)
		resumed := c.count()
		p.click("resume", `#phone-hold`)
		c.awaitTone(t, "browser after resume", browserHz, 5, resumed)
		if got := toneWindows(decode(held), browserHz); got > 1 {
			t.Errorf("while held the caller heard %d windows of the helper, want none", got)
		}
		checkStream(t, c.packets(from))
	})
	t.Run("reload re-attaches", func(t *testing.T) {
		p.run("reload", chromedp.Reload())
		p.until("reconnected", `window.moroz && window.moroz.socket.ws && window.moroz.socket.ws.readyState === 1`)
		from := c.count()
		p.until("talking again", `!!document.querySelector('.call.talking')`)
		c.awaitTone(t, "browser after reload", browserHz, 5, from)
		p.until("browser hears the caller after reload", hears(callerHz))
		if leg.Err() != nil {
			t.Errorf("leg after reload: got %v, want alive", leg.Err())
		}
	})
	t.Run("closed tab ends the leg as lost", func(t *testing.T) {
		p.cancel()
		select {
		case <-leg.Done():
		case <-time.After(30 * time.Second):
			t.Fatal("the leg did not end after its tab closed")
		}
		if !leg.Lost() {
			t.Errorf("leg's end: got %v, want %v", leg.Err(), softphone.ErrLost)
		}
	})
}

// checkStream checks that the caller's RTP stream stayed one stream over
// a change of source: one SSRC, sequence numbers without gaps, timestamps
// moving forward.
func checkStream(t *testing.T, pkts []rtp.Packet) {
	t.Helper()
	for i := 1; i < len(pkts); i++ {
		a, b := pkts[i-1], pkts[i]
		if b.SSRC != a.SSRC {
			t.Fatalf("packet %d: SSRC changed from %x to %x", i, a.SSRC, b.SSRC)
		}
		if b.SequenceNumber != a.SequenceNumber+1 {
			t.Fatalf("packet %d: sequence number %d after %d", i, b.SequenceNumber, a.SequenceNumber)
		}
		if int32(b.Timestamp-a.Timestamp) < 0 {
			t.Fatalf("packet %d: timestamp %d after %d", i, b.Timestamp, a.Timestamp)
		}
	}
}

// Ringing ends three ways: the helper rejects (declined), nobody answers
// before the offer's deadline (the browser stops ringing, and the call can
// be offered again), or no console is open.
func TestRingingOutcomes(t *testing.T) {
	r := newRig(t)
	helper := r.helper(t, "ded")
	p := newTab(t, browser(t))
	p.login(r.url, "ded")

	t.Run("reject", func(t *testing.T) {
		res := dial(r, helper, newCaller(t, "call-reject@test"), context.Background())
		p.click("reject", `#phone-reject`)
		if d := <-res; !errors.Is(d.err, voice.ErrDeclined) {
			t.Errorf("dial: got %v, want %v", d.err, voice.ErrDeclined)
		}
		p.until("ringing stops", `window.moroz.phone.calls.size === 0`)
	})
	t.Run("no answer, then offered again", func(t *testing.T) {
		c := newCaller(t, "call-rona@test")
		ctx, cancel := context.WithCancel(context.Background())
		res := dial(r, helper, c, ctx)
		p.until("the call rings", `!!document.querySelector('#phone-answer')`)
		cancel() // the router's offer timed out (RONA)
		if d := <-res; !errors.Is(d.err, context.Canceled) {
			t.Errorf("dial: got %v, want %v", d.err, context.Canceled)
		}
		p.until("ringing stops", `window.moroz.phone.calls.size === 0`)

		res = dial(r, helper, c, context.Background())
		p.click("answer the second offer", `#phone-answer`)
		d := <-res
		if d.err != nil {
			t.Fatalf("second dial: %v", d.err)
		}
		d.leg.Hangup()
		p.until("the panel closes", `window.moroz.phone.calls.size === 0`)
	})
	t.Run("no console", func(t *testing.T) {
		other := r.helper(t, "nobody")
		d := <-dial(r, other, newCaller(t, "call-none@test"), context.Background())
		if !errors.Is(d.err, voice.ErrNoAnswer) || !errors.Is(d.err, softphone.ErrNoBrowser) {
			t.Errorf("dial: got %v, want %v and %v", d.err, voice.ErrNoAnswer, softphone.ErrNoBrowser)
		}
	})
}
