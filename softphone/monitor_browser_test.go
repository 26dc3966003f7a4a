package softphone_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pion/rtp"

	"github.com/morozhq/moroz/console"
	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/softphone"
	"github.com/morozhq/moroz/store"
)

// superHz is what the supervisor's fake microphone plays: no harmonic of
// the caller's, the helper's or the hold music's tone.
const superHz = 1300

// Levels of a tone in a browser's analyser: one it hears reaches
// heardDB, one it does not hear stays below silentDB. Measured over six
// runs: in the helper's tab the caller's tone at -26 dB, the
// supervisor's whispered one at -46 dB, the floor at superHz without it
// between -125 and -76 dB; in the supervisor's, the caller at -40 dB and
// the helper at -56 dB (a microphone's tone goes through Chromium's
// noise suppression, which lowers a steady tone).
const (
	heardDB  = -62
	silentDB = -66
)

func (r *rig) supervisor(t *testing.T, login string) int64 {
	t.Helper()
	u, err := console.AddUser(context.Background(), r.store, login, "Ded "+login, store.RoleSupervisor, "password-"+login)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// superHears is a JavaScript test that the supervisor hears every freq.
func superHears(freqs ...float64) string {
	js := "true"
	for _, f := range freqs {
		js += fmt.Sprintf(" && window.moroz.monitor.levelAt(%f) > %d", f, heardDB)
	}
	return js
}

// helperHears is a JavaScript test that the helper hears freq.
func helperHears(freq float64) string {
	return fmt.Sprintf(`window.moroz.phone.levelAt([...window.moroz.phone.calls.values()][0], %f) > %d`, freq, heardDB)
}

// helperPeak is the loudest the helper heard freq over a second, in dB.
func helperPeak(p *tab, freq float64) float64 {
	p.t.Helper()
	return eval[float64](p, fmt.Sprintf(`(async () => {
		const ph = window.moroz.phone, c = [...ph.calls.values()][0];
		let peak = -200;
		for (let i = 0; i < 20; i++) {
			peak = Math.max(peak, ph.levelAt(c, %f));
			await new Promise((r) => setTimeout(r, 50));
		}
		return peak; })()`, freq))
}

// mixedWindows counts the 200 ms windows of s that carry freq as one of
// two voices: at least a fifth of their energy.
func mixedWindows(s []int16, freq float64) int {
	const w = media.SampleRate / 5
	n := 0
	for i := 0; i+w <= len(s); i += w {
		if share(s[i:i+w], freq) > 0.2 {
			n++
		}
	}
	return n
}

// awaitMixed waits until the caller heard want windows carrying freq
// since packet from.
func (c *caller) awaitMixed(t *testing.T, what string, freq float64, want, from int) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		if mixedWindows(decode(c.packets(from)), freq) >= want {
			return
		}
		select {
		case <-c.changed:
		case <-deadline:
			t.Fatalf("%s: the caller heard %d windows with %.0f Hz in them, want %d", what, mixedWindows(decode(c.packets(from)), freq), freq, want)
		}
	}
}

// awaitPackets waits until the caller got n packets since from (a second
// is 50) and returns them.
func (c *caller) awaitPackets(t *testing.T, from, n int) []rtp.Packet {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for c.count() < from+n {
		select {
		case <-c.changed:
		case <-deadline:
			t.Fatalf("the caller got %d packets, want %d", c.count()-from, n)
		}
	}
	return c.packets(from)
}

// A supervisor on the wallboard sees the live call and joins it. In
// listen they hear the caller and the helper and nobody hears them; in
// whisper the helper hears them and the caller does not; in barge both
// do. The caller's stream stays one unbroken stream through the modes;
// the call survives the supervisor leaving or their tab reloading, and
// the call's end ends the supervisor's leg. Helpers may not monitor, and every step is audited.
//
// Two Chromiums: the helper's microphone plays browserHz, the
// supervisor's superHz; the caller is the rig's RTP phone playing
// callerHz.
func TestSupervisorListenWhisperBarge(t *testing.T) {
	r := newRig(t)
	helper := r.callHelper(t, "snegurochka")
	boss := r.supervisor(t, "ded")
	hp := newTab(t, browser(t))
	sp := newTab(t, browserWith(t, superHz))
	hp.login(r.url, "snegurochka")
	sp.login(r.url, "ded")

	c := newCaller(t, "call-monitor@test")
	res := dial(r, helper, c, context.Background())
	hp.click("answer", `#phone-answer`)
	d := <-res
	if d.err != nil {
		t.Fatalf("dial: %v", d.err)
	}
	leg := d.leg
	bctx, stopBridge := context.WithCancel(context.Background())
	bridged := make(chan error, 1)
	go func() { bridged <- c.leg.Bridge(bctx, leg.Media()) }()
	t.Cleanup(func() { stopBridge(); <-bridged })
	hp.until("the helper hears the caller", hears(callerHz))

	row := fmt.Sprintf(`#livecalls tr[data-call=%q]`, c.id)
	button := func(mode string) string { return row + fmt.Sprintf(` button[data-mode=%q]`, mode) }
	start := c.count()
	listenPeak := 0.0 // the helper's level at superHz in listen

	t.Run("wallboard shows the live call", func(t *testing.T) {
		sp.run("the live call is listed", chromedp.WaitVisible(chromedp.CSS(button("listen"))))
		sp.until("its helper is named", fmt.Sprintf(`document.querySelector(%q).textContent.includes("Elf snegurochka")`, row))
		sp.shot("wallboard-live-call")
	})
	t.Run("a helper may not monitor", func(t *testing.T) {
		got := eval[string](hp, `window.moroz.socket.request('monitor', {monitor: {op: 'calls'}}).then(() => 'ok', (e) => e.message)`)
		if got != "forbidden" {
			t.Errorf("a helper's monitor request: got %q, want forbidden", got)
		}
	})
	t.Run("listen", func(t *testing.T) {
		sp.click("listen", button("listen"))
		sp.until("the supervisor hears the caller and the helper", superHears(callerHz, browserHz))
		t.Logf("the supervisor's levels: %.0f dB at %d Hz, %.0f dB at %d Hz", eval[float64](sp, fmt.Sprintf("window.moroz.monitor.levelAt(%d)", callerHz)),
			callerHz, eval[float64](sp, fmt.Sprintf("window.moroz.monitor.levelAt(%d)", browserHz)), browserHz)
		if m := leg.Monitor(); m == nil || m.Mode() != softphone.ModeListen || m.Supervisor() != boss {
			t.Fatalf("leg's monitor: got %+v, want listen by %d", m, boss)
		}
		from := c.count()
		got := helperPeak(hp, superHz)
		listenPeak = got
		t.Logf("in listen the helper's level at %d Hz: %.0f dB; at %d Hz: %.0f dB", superHz, got, callerHz, helperPeak(hp, callerHz))
		if got > silentDB {
			t.Errorf("in listen the helper heard the supervisor at %.0f dB, want below %d", got, silentDB)
		}
		if got := mixedWindows(decode(c.awaitPackets(t, from, 50)), superHz); got > 0 {
			t.Errorf("in listen the caller heard %d windows of the supervisor, want none", got)
		}
		sp.shot("wallboard-listening")
	})
	t.Run("whisper", func(t *testing.T) {
		sp.click("whisper", button("whisper"))
		sp.until("whisper is on", fmt.Sprintf(`!!document.querySelector(%q)`, button("whisper")+`.active`))
		hp.until("the helper hears the supervisor", helperHears(superHz))
		hp.until("and still the caller", helperHears(callerHz))
		whisperPeak := helperPeak(hp, superHz)
		t.Logf("in whisper the helper's level at %d Hz: %.0f dB", superHz, whisperPeak)
		if whisperPeak < listenPeak+20 {
			t.Errorf("the helper heard the supervisor at %.0f dB in whisper and %.0f dB in listen, want 20 dB more in whisper", whisperPeak, listenPeak)
		}
		from := c.count()
		if got := mixedWindows(decode(c.awaitPackets(t, from, 50)), superHz); got > 0 {
			t.Errorf("in whisper the caller heard %d windows of the supervisor, want none", got)
		}
		sp.until("the supervisor still hears both", superHears(callerHz, browserHz))
	})
	t.Run("barge", func(t *testing.T) {
		from := c.count()
		sp.click("barge", button("barge"))
		c.awaitMixed(t, "the supervisor barging", superHz, 5, from)
		c.awaitMixed(t, "the helper beside the supervisor", browserHz, 5, from)
		hp.until("the helper hears the supervisor", helperHears(superHz))
		sp.until("the supervisor hears both", superHears(callerHz, browserHz))
		sp.shot("wallboard-barging")
	})
	t.Run("the call survives the supervisor leaving", func(t *testing.T) {
		sp.click("leave", row+` button[data-op="leave"]`)
		sp.until("the wallboard left", `window.moroz.monitor.active === null`)
		if m := leg.Monitor(); m != nil {
			t.Fatalf("leg's monitor after leave: got %+v, want none", m)
		}
		from := c.count()
		pkts := c.awaitPackets(t, from, 50)
		if got := mixedWindows(decode(pkts), superHz); got > 0 {
			t.Errorf("after leave the caller heard %d windows of the supervisor, want none", got)
		}
		c.awaitTone(t, "the helper after the supervisor left", browserHz, 5, from)
		if leg.Err() != nil {
			t.Errorf("leg after leave: got %v, want alive", leg.Err())
		}
		checkStream(t, c.packets(start))
	})
	t.Run("a reloaded wallboard drops its monitor, not the call", func(t *testing.T) {
		sp.click("listen before the reload", button("listen"))
		sp.until("listening", superHears(callerHz, browserHz))
		m := leg.Monitor()
		if m == nil {
			t.Fatal("no monitor while listening")
		}
		sp.run("reload the wallboard", chromedp.Reload())
		select {
		case <-m.Done():
		case <-time.After(45 * time.Second):
			t.Fatal("the monitor did not stop when the supervisor's tab went away")
		}
		from := c.count()
		c.awaitTone(t, "the helper after the supervisor's tab went", browserHz, 5, from)
		if leg.Err() != nil {
			t.Errorf("leg after the wallboard reloaded: got %v, want alive", leg.Err())
		}
		sp.run("the wallboard is back", chromedp.WaitVisible(chromedp.CSS(button("listen"))))
	})
	t.Run("the call's end ends the supervisor's leg", func(t *testing.T) {
		sp.click("listen again", button("listen"))
		sp.until("listening again", superHears(callerHz, browserHz))
		m := leg.Monitor()
		if m == nil {
			t.Fatal("no monitor after listening again")
		}
		leg.Hangup()
		select {
		case <-m.Done():
		case <-time.After(15 * time.Second):
			t.Fatal("the monitor did not stop when the call ended")
		}
		sp.until("the wallboard's monitor ended", `window.moroz.monitor.active === null`)
		sp.until("the call left the wallboard", fmt.Sprintf(`!document.querySelector(%q)`, row))
	})
	t.Run("audited", func(t *testing.T) {
		entries, err := r.store.ListAudit(context.Background(), 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			if e.Action == "monitor" {
				got = append(got, e.Detail)
			}
		}
		slices.Reverse(got) // oldest first
		id := c.id
		want := []string{"listen call " + id, "whisper call " + id, "barge call " + id, "leave call " + id,
			"listen call " + id, "listen call " + id}
		if !slices.Equal(got, want) {
			t.Errorf("audit: got %q, want %q", got, want)
		}
	})
}
