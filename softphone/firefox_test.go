package softphone_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/internal/baresiptest"
	"github.com/morozhq/moroz/internal/firefoxtest"
	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/store"
)

// firefoxPrefs give Firefox a fake microphone that plays browserHz
// (Firefox's fake device is a sine of media.navigator.audio.fake_frequency;
// it cannot play a WAV file), no permission prompt, and unobfuscated ICE
// host candidates, loopback ones allowed. Without a stored microphone
// permission Firefox gathers only the default route's address, which is
// why TestMain gives the namespace one.
var firefoxPrefs = map[string]any{
	"media.navigator.streams.fake":                      true,
	"media.navigator.permission.disabled":               true,
	"media.navigator.audio.fake_frequency":              browserHz,
	"media.peerconnection.ice.loopback":                 true,
	"media.peerconnection.ice.no_host":                  false,
	"media.peerconnection.ice.obfuscate_host_addresses": false,
	// A machine without a sound server has no output device; Firefox's
	// AudioContext then stays suspended and hears nothing. Cubeb's mock
	// context is a device that plays to nowhere.
	"media.cubeb.force_mock_context": true,
}

// foxTab is a helper's console in a Firefox tab.
type foxTab struct {
	t   *testing.T
	tab *firefoxtest.Tab
	dir string
}

// in is p for the subtest t, which its failures then end.
func (p *foxTab) in(t *testing.T) *foxTab { c := *p; c.t = t; return &c }

func newFoxTab(t *testing.T) *foxTab {
	t.Helper()
	b := firefoxtest.Start(t, 1280, 800, firefoxPrefs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := b.NewTab(ctx)
	if err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return &foxTab{t: t, tab: p, dir: artifacts(t)}
}

// fail saves a screenshot, the page's console and its call, then fails
// the test.
func (p *foxTab) fail(step string, err error) {
	p.t.Helper()
	p.shot("failed-" + step)
	for _, e := range p.tab.Browser().Logs() {
		p.t.Logf("firefox console: %s", e)
	}
	p.logCall()
	p.t.Fatalf("%s: %v", step, err)
}

// callState is what a failing test prints of the page's call: its audio
// context, what it hears, its RTP counters and both SDPs.
const callState = `(async () => {
	const ph = window.moroz.phone, c = [...ph.calls.values()][0];
	if (!c || !c.pc) return null;
	const rtp = [];
	(await c.pc.getStats()).forEach((r) => {
		if (r.type === 'inbound-rtp') rtp.push('received ' + r.packetsReceived);
		if (r.type === 'outbound-rtp') rtp.push('sent ' + r.packetsSent);
	});
	return {audio: ph.ctx && ph.ctx.state, hears: ph.dominant(c), rtp, ice: c.pc.iceConnectionState,
		offer: c.pc.localDescription && c.pc.localDescription.sdp,
		answer: c.pc.remoteDescription && c.pc.remoteDescription.sdp};
})()`

func (p *foxTab) logCall() {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var st *struct {
		Audio, ICE, Offer, Answer string
		Hears                     map[string]any
		RTP                       []string
	}
	if err := p.tab.Eval(ctx, callState, &st); err != nil || st == nil {
		p.t.Logf("the page's call: none (%v)", err)
		return
	}
	p.t.Logf("the page's call: audio context %s, hears %v, RTP %v, ICE %s\noffer:\n%s\nanswer:\n%s",
		st.Audio, st.Hears, st.RTP, st.ICE, st.Offer, st.Answer)
}

// do runs one step of the page under a 30 s hang guard.
func (p *foxTab) do(step string, f func(ctx context.Context) error) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f(ctx); err != nil {
		p.fail(step, err)
	}
}

func (p *foxTab) until(step, js string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.tab.Until(ctx, js, 50*time.Millisecond); err != nil {
		p.fail(step, err)
	}
}

func (p *foxTab) shot(name string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	png, err := p.tab.Screenshot(ctx)
	if err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(p.dir, "softphone-firefox-"+name+".png"), png, 0o644); err != nil {
		p.t.Errorf("screenshot %s: %v", name, err)
	}
}

// click presses the button sel, found and clicked in one step in the
// page (the call panel redraws itself every second).
func (p *foxTab) click(step, sel string) {
	p.t.Helper()
	p.until(step+": the button shows", fmt.Sprintf(`document.querySelector(%q)`, sel))
	p.do(step, func(ctx context.Context) error {
		return p.tab.CallFunction(ctx, `(sel) => document.querySelector(sel).click()`, nil, sel)
	})
}

// login types the helper's name and password as a person would and waits
// for the phone to know this console.
func (p *foxTab) login(url, login string) {
	p.t.Helper()
	p.do("open the login page", func(ctx context.Context) error { return p.tab.Navigate(ctx, url) })
	p.until("the login form shows", `document.querySelector('#login-submit')`)
	p.do("type the login", func(ctx context.Context) error { return p.tab.Type(ctx, `input[name=login]`, login) })
	p.do("type the password", func(ctx context.Context) error {
		return p.tab.Type(ctx, `input[name=password]`, "password-"+login)
	})
	p.click("log in", `#login-submit`)
	p.until("phone ready", `window.moroz && window.moroz.phone && window.moroz.phone.ready`)
}

// available sets the helper available, in the top bar.
func (p *foxTab) available() {
	p.t.Helper()
	p.do("go available", func(ctx context.Context) error {
		return p.tab.Eval(ctx, `(() => { const s = document.querySelector('#status');
			s.value = 'available'; s.dispatchEvent(new Event('change')); })()`, nil)
	})
	p.until("available", `window.moroz.state.status.status === 'available'`)
}

// phone is a SIP phone of another make than Moroz's (baresip) that
// dials a number at once, says callerHz and dumps what it hears into its
// folder (the sndfile module's *-dec.wav).
type phone struct {
	dir   string
	mu    sync.Mutex
	lines []string      // guarded by mu: what baresip printed
	ended chan struct{} // closed when baresip printed that the call ended
}

// baresipCall starts baresip dialling uri; it quits with the test.
func baresipCall(t *testing.T, uri string) *phone {
	t.Helper()
	bin, err := exec.LookPath("baresip")
	if err != nil {
		if os.Getenv("MOROZ_REQUIRE_PEERS") == "1" {
			t.Fatal("baresip is required (MOROZ_REQUIRE_PEERS=1) but not installed (Debian package baresip-core)")
		}
		t.Skip("baresip not installed (Debian package baresip-core)")
	}
	ph := &phone{dir: t.TempDir(), ended: make(chan struct{})}
	if err := media.WriteWAV(filepath.Join(ph.dir, "tone.wav"), sine(callerHz, 90*time.Second)); err != nil {
		t.Fatal(err)
	}
	modules := "/usr/lib/baresip/modules"
	if p := os.Getenv("MOROZ_BARESIP_MODULES"); p != "" {
		modules = p
	}
	conf := strings.Join([]string{
		"sip_listen 127.0.0.1:" + baresiptest.FreePort(t), "module_path " + modules,
		"module g711.so", "module aufile.so", "module aubridge.so", "module sndfile.so",
		"net_interface 127.0.0.1", "module_app account.so", "module_app menu.so",
		"audio_player aubridge,nil", "audio_alert aubridge,nil",
		"audio_source aufile," + filepath.Join(ph.dir, "tone.wav"), "snd_path " + ph.dir,
	}, "\n") + "\n"
	for name, body := range map[string]string{"config": conf, "accounts": "<sip:375291112233@127.0.0.1>;regint=0\n"} {
		if err := os.WriteFile(filepath.Join(ph.dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-f", ph.dir, "-t", "120", "-e", "/dial "+uri)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	read := make(chan struct{})
	go func() { defer close(read); ph.read(out) }()
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		<-read
		if t.Failed() {
			t.Logf("baresip said:\n%s", ph.said())
		}
	})
	return ph
}

func (ph *phone) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	closed := false
	for sc.Scan() {
		if strings.Contains(sc.Text(), "bit/s)") {
			continue // the call's status line, redrawn every 100 ms
		}
		ph.mu.Lock()
		ph.lines = append(ph.lines, sc.Text())
		ph.mu.Unlock()
		if !closed && strings.Contains(sc.Text(), "terminated") {
			close(ph.ended)
			closed = true
		}
	}
}

func (ph *phone) said() string {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	return strings.Join(ph.lines, "\n")
}

// heard reads the phone's dump of what it heard. baresip writes the WAV
// header's sizes when the call's audio stream closes, which may come just
// after the hang-up; until then the file reads empty.
func (ph *phone) heard(t *testing.T) []int16 {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(ph.dir, "dump-*-dec.wav"))
		if len(files) == 1 {
			if clip, err := media.LoadWAV(files[0]); err == nil && len(clip.Samples()) > 0 {
				return clip.Samples()
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audio dump of the call in the phone's folder (%v)", files)
		}
	}
}

// runs are the tones of what the caller heard, 200 ms window by window
// (0 for none of want), with consecutive equal windows merged.
type run struct {
	hz      float64
	windows int
}

func tones(s []int16, want ...float64) []run {
	const w = media.SampleRate / 5
	var out []run
	for i := 0; i+w <= len(s); i += w {
		hz := 0.0
		for _, f := range want {
			if share(s[i:i+w], f) > 0.5 {
				hz = f
			}
		}
		if n := len(out); n > 0 && out[n-1].hz == hz {
			out[n-1].windows++
		} else {
			out = append(out, run{hz, 1})
		}
	}
	return out
}

// talkHoldTalk reports whether runs are at least before windows of
// browserHz, then at least held of holdHz with no browserHz among them,
// then at least after of browserHz, and no hold music after that.
func talkHoldTalk(runs []run, before, held, after int) bool {
	var got [3]int // windows of the helper, of the hold music, of the helper again
	phase := 0
	for _, r := range runs {
		switch {
		case r.hz == holdHz && phase == 2:
			return false
		case r.hz == holdHz && got[0] >= before:
			phase = 1
		case r.hz == browserHz && phase == 1:
			phase = 2
		case r.hz != browserHz:
			continue
		}
		got[phase] += r.windows
	}
	return got[0] >= before && got[1] >= held && got[2] >= after
}

// The core scenario in Firefox: a helper logs in and goes available, a
// SIP caller saying callerHz rings, the helper answers in the browser;
// the browser hears the caller and the caller hears Firefox's fake
// microphone; hold gives the caller the hold music and not the helper,
// resume gives the helper back; the helper hangs up and the call is
// recorded as theirs. A second call checks that the keypad's keys
// (telephone-event at Firefox's payload type, 101) reach the caller and
// the leg, and that a reload of the tab re-attaches the audio.
func TestFirefoxAnswersACall(t *testing.T) {
	r := newRig(t)
	addr := r.startSIP(t)
	helper := r.callHelper(t, "elf")
	p := newFoxTab(t)
	p.login(r.url, "elf")
	p.available()

	caller := baresipCall(t, "sip:100@"+addr)
	p.until("the browser rings", `document.querySelector('#phone-answer')`)
	p.shot("ringing")
	p.click("answer", `#phone-answer`)

	t.Run("browser hears the caller", func(t *testing.T) {
		p := p.in(t)
		p.until("the browser hears the caller's tone", hears(callerHz))
		p.until("the level meter moves", `parseFloat(document.querySelector('.meter-bar').style.width) > 20`)
		p.shot("talking")
	})
	// What the caller heard is checked after the call, from baresip's dump.
	t.Run("hold and resume", func(t *testing.T) {
		p := p.in(t)
		p.until("three seconds of talk", `(() => { const c = [...window.moroz.phone.calls.values()][0];
			return c && c.since && Date.now() - Date.parse(c.since) > 3000; })()`)
		p.click("hold", `#phone-hold`)
		p.until("held", `document.querySelector('.call.held')`)
		p.shot("held")
		time.Sleep(3 * time.Second) // the caller hears the hold music meanwhile
		p.click("resume", `#phone-hold`)
		p.until("resumed", `!document.querySelector('.call.held') && document.querySelector('.call.talking')`)
		p.until("the browser hears the caller after resume", hears(callerHz))
		time.Sleep(3 * time.Second) // and the helper again
	})
	t.Run("hang up", func(t *testing.T) {
		p := p.in(t)
		p.click("hang up", `#phone-hangup`)
		p.until("the panel closes", `window.moroz.phone.calls.size === 0`)
		select {
		case <-caller.ended:
		case <-time.After(20 * time.Second):
			t.Fatal("the caller's phone did not see the call end after the helper hung up")
		}
		calls, err := r.store.ListCalls(context.Background(), store.CallFilter{})
		if err != nil || len(calls) != 1 {
			t.Fatalf("call records: got %d, %v; want 1", len(calls), err)
		}
		if c := calls[0]; c.Outcome != acd.OutcomeAnswered || c.HelperID != helper || c.ConnectedAt.IsZero() {
			t.Errorf("call record: got outcome %q helper %d connected %v, want answered by %d",
				c.Outcome, c.HelperID, c.ConnectedAt, helper)
		}
	})
	t.Run("caller heard the browser, the hold music, the browser", func(t *testing.T) {
		heard := caller.heard(t)
		runs := tones(heard, browserHz, holdHz)
		if !talkHoldTalk(runs, 5, 10, 5) {
			t.Errorf("the caller heard (Hz × 200 ms windows) %v; want ≥5 of %d Hz, then ≥10 of %d Hz and none of %d, then ≥5 of %d Hz",
				runs, browserHz, holdHz, browserHz, browserHz)
		}
	})
	// baresip does not print the RFC 4733 events it gets: the keys (and a
	// reload) are checked on a second call, from the rig's caller, which
	// keeps its RTP.
	t.Run("dtmf and a reload", func(t *testing.T) {
		p := p.in(t)
		c := newCaller(t, "call-dtmf@test")
		res := dial(r, helper, c, context.Background())
		p.click("answer the second call", `#phone-answer`)
		d := <-res
		if d.err != nil {
			t.Fatalf("dial: %v", d.err)
		}
		bctx, stopBridge := context.WithCancel(context.Background())
		bridged := make(chan error, 1)
		go func() { bridged <- c.leg.Bridge(bctx, d.leg.Media()) }()
		defer func() { stopBridge(); <-bridged }()
		p.until("talking", `document.querySelector('.call.talking')`)

		from := c.count()
		p.click("press 5", `.keypad [data-key="5"]`)
		if got := c.awaitDTMF(t, from); got != 5 {
			t.Errorf("caller's telephone-event: got event %d, want 5", got)
		}
		select {
		case k := <-d.leg.DTMF():
			if k.Digit != '5' {
				t.Errorf("leg's DTMF: got %q, want '5'", k.Digit)
			}
		case <-time.After(10 * time.Second):
			t.Error("leg's DTMF: no key arrived")
		}

		p.do("reload", func(ctx context.Context) error { return p.tab.Reload(ctx) })
		p.until("reconnected", `window.moroz && window.moroz.socket.ws && window.moroz.socket.ws.readyState === 1`)
		from = c.count()
		p.until("talking again", `document.querySelector('.call.talking')`)
		c.awaitTone(t, "Firefox after reload", browserHz, 5, from)
		p.until("the browser hears the caller after reload", hears(callerHz))
		if err := d.leg.Err(); err != nil {
			t.Errorf("leg after reload: got %v, want alive", err)
		}
		d.leg.Hangup()
		p.until("the panel closes", `window.moroz.phone.calls.size === 0`)
	})
}

func TestTalkHoldTalk(t *testing.T) {
	tests := []struct {
		name string
		runs []run
		want bool
	}{
		{"talk, hold, talk", []run{{0, 3}, {browserHz, 6}, {holdHz, 12}, {browserHz, 5}}, true},
		{"no hold", []run{{browserHz, 30}}, false},
		{"helper heard while held", []run{{browserHz, 6}, {holdHz, 6}, {browserHz, 1}, {holdHz, 6}, {browserHz, 5}}, false},
		{"hold music after resume", []run{{browserHz, 6}, {holdHz, 12}, {browserHz, 5}, {holdHz, 1}}, false},
		{"too little talk first", []run{{browserHz, 2}, {holdHz, 12}, {browserHz, 5}}, false},
		{"no talk after", []run{{browserHz, 6}, {holdHz, 12}, {0, 5}}, false},
		{"silence between", []run{{browserHz, 6}, {0, 2}, {holdHz, 12}, {0, 1}, {browserHz, 5}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := talkHoldTalk(tt.runs, 5, 10, 5); got != tt.want {
				t.Errorf("talkHoldTalk(%v): got %v, want %v", tt.runs, got, tt.want)
			}
		})
	}
}
