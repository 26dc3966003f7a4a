package softphone_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/sip"
	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/voice"
	"github.com/morozhq/moroz/work"
)

// startSIP puts the SIP edge and the call flow in front of the rig: the
// flow rings helpers' browsers through the rig's phone. It returns the
// address callers dial.
func (r *rig) startSIP(t *testing.T) string {
	t.Helper()
	log := testLogger()
	prompts := filepath.Join(t.TempDir(), "prompts")
	shortPrompts(t, prompts)
	var flow *voice.Flow
	srv, err := sip.New(sip.Config{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", MediaIP: "127.0.0.1",
		RTPPortMin: 30000, RTPPortMax: 39998, Logger: log}, func(ctx context.Context, c *sip.Call) {
		voice.SIPHandler(flow)(ctx, c)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	flow, err = voice.New(voice.Options{Work: r.work, Store: r.store, Prompts: voice.NewPrompts(prompts),
		Dialer: r.phone.Dialer(nil), Phone: r.phone.PhoneOf(nil), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return srv.UDPAddr().String()
}

// shortPrompts replaces the spoken prompts with 200 ms of a 440 Hz tone
// so that a call does not sit through the greeting.
func shortPrompts(t *testing.T, dir string) {
	t.Helper()
	for _, name := range []string{voice.PromptGreeting, voice.PromptAfterHours, voice.PromptPosition,
		voice.PromptWait, voice.PromptMenu, voice.PromptLeaveMessage, voice.PromptCallback,
		voice.PromptSaved, voice.PromptBeep} {
		p := filepath.Join(dir, "ru", name+".wav")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := media.WriteWAV(p, sine(440, 200*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
}

// A caller rings Moroz over SIP; the flow offers the call to the
// available helper, whose browser rings; the helper answers and both
// talk; the helper hangs up and the call is recorded as answered by them.
func TestSIPCallAnsweredInTheBrowser(t *testing.T) {
	r := newRig(t)
	addr := r.startSIP(t)
	helper := r.helper(t, "elf")
	ctx := context.Background()
	if err := r.work.UpdateHelper(ctx, store.Helper{UserID: helper, Queues: []string{work.QueueCalls}}); err != nil {
		t.Fatal(err)
	}
	p := newTab(t, browser(t))
	p.login(r.url, "elf")
	p.run("go available", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#status');
		s.value = 'available'; s.dispatchEvent(new Event('change')); })()`))
	p.until("available", `window.moroz.state.status.status === 'available'`)

	dialer, err := sipDialer(t)
	if err != nil {
		t.Fatal(err)
	}
	out, err := dialer.Dial(ctx, "sip:100@"+addr, sip.DialOptions{FromUser: "+375291112233"})
	if err != nil {
		t.Fatalf("call Moroz: %v", err)
	}
	cctx, hangup := context.WithCancel(ctx)
	defer hangup()
	go out.Media().Play(cctx, media.NewClip(sine(callerHz, time.Second)).Loop())
	heard := filepath.Join(t.TempDir(), "caller-heard.wav")
	recorded := make(chan error, 1)
	go func() { _, err := out.Media().Record(cctx, heard, time.Minute); recorded <- err }()

	p.until("the browser rings", `!!document.querySelector('#phone-answer')`)
	p.click("answer", `#phone-answer`)
	p.until("the browser hears the caller", hears(callerHz))
	p.shot("flow-talking")
	p.until("three seconds of talk", `(() => { const c = [...window.moroz.phone.calls.values()][0];
		return c && c.since && Date.now() - Date.parse(c.since) > 3000; })()`)
	p.click("hang up", `#phone-hangup`)

	select {
	case <-out.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the caller's call did not end after the helper hung up")
	}
	hangup()
	if err := <-recorded; err != nil {
		t.Fatalf("record the caller's audio: %v", err)
	}
	clip, err := media.LoadWAV(heard)
	if err != nil {
		t.Fatal(err)
	}
	if got := toneWindows(clip.Samples(), browserHz); got < 10 {
		t.Errorf("the caller heard %d windows of 200 ms of the helper's tone, want at least 10", got)
	}
	calls, err := r.store.ListCalls(ctx, store.CallFilter{})
	if err != nil || len(calls) != 1 {
		t.Fatalf("call records: got %d, %v; want 1", len(calls), err)
	}
	if c := calls[0]; c.Outcome != acd.OutcomeAnswered || c.HelperID != helper || c.ConnectedAt.IsZero() {
		t.Errorf("call record: got outcome %q helper %d connected %v, want answered by %d",
			c.Outcome, c.HelperID, c.ConnectedAt, helper)
	}
}

// sipDialer is a second SIP endpoint, the caller's phone.
func sipDialer(t *testing.T) (*sip.Dialer, error) {
	t.Helper()
	srv, err := sip.New(sip.Config{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", MediaIP: "127.0.0.1",
		RTPPortMin: 20000, RTPPortMax: 29998, Logger: testLogger()}, func(context.Context, *sip.Call) {})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { srv.Close() })
	d, err := srv.NewDialer()
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { d.Close() })
	return d, nil
}
