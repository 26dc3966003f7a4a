package softphone_test

import (
	"context"
	"fmt"
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
	helper := r.callHelper(t, "elf")
	ctx := context.Background()
	p := newTab(t, browser(t))
	p.login(r.url, "elf")
	p.available()

	out := r.call(t, addr)
	cctx, hangup := context.WithCancel(ctx)
	defer hangup()
	heard := filepath.Join(t.TempDir(), "caller-heard.wav")
	recorded := make(chan error, 1)
	go func() { _, err := out.Media().Record(cctx, heard, time.Minute); recorded <- err }()

	p.until("the browser rings", `!!document.querySelector('#phone-answer')`)
	p.click("answer", `#phone-answer`)
	p.until("the browser hears the caller", hears(callerHz))
	p.shot("flow-talking")
	if live := r.phone.LiveCalls(ctx); len(live) != 1 || live[0].Queue != work.QueueCalls || live[0].ItemID == 0 || live[0].Helper != helper {
		t.Errorf("live calls: got %+v, want one of helper %d in queue %s with its item", live, helper, work.QueueCalls)
	}
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

// callHelper adds a helper of the calls queue.
func (r *rig) callHelper(t *testing.T, login string) int64 {
	t.Helper()
	id := r.helper(t, login)
	if err := r.work.UpdateHelper(context.Background(), store.Helper{UserID: id, Queues: []string{work.QueueCalls}}); err != nil {
		t.Fatal(err)
	}
	return id
}

// available sets the helper available as they would, in the top bar.
func (p *tab) available() {
	p.t.Helper()
	p.run("go available", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#status');
		s.value = 'available'; s.dispatchEvent(new Event('change')); })()`))
	p.until("available", `window.moroz.state.status.status === 'available'`)
}

// call rings Moroz from a SIP phone that says callerHz until the test
// ends, and returns the call.
func (r *rig) call(t *testing.T, addr string) *sip.Outbound {
	t.Helper()
	dialer, err := sipDialer(t)
	if err != nil {
		t.Fatal(err)
	}
	out, err := dialer.Dial(context.Background(), "sip:100@"+addr, sip.DialOptions{FromUser: "+375291112233"})
	if err != nil {
		t.Fatalf("call Moroz: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	played := make(chan struct{})
	go func() {
		defer close(played)
		out.Media().Play(ctx, media.NewClip(sine(callerHz, time.Second)).Loop())
	}()
	t.Cleanup(func() {
		stop()
		out.Hangup()
		<-played
	})
	return out
}

// A helper whose browser rings but who does not answer loses the offer
// when it times out (RONA); the router offers the call to the next
// helper, whose browser answers it.
func TestRingNoAnswerGoesToTheNextHelper(t *testing.T) {
	r := newRigWith(t, func(c *acd.Config) {
		c.OfferTimeout = map[acd.Channel]time.Duration{acd.Voice: 2 * time.Second}
	})
	addr := r.startSIP(t)
	root := browser(t)
	ids := map[string]int64{}
	tabs := map[string]*tab{}
	for _, login := range []string{"ded", "snegurochka"} {
		ids[login] = r.callHelper(t, login)
		tabs[login] = newTab(t, root)
		tabs[login].login(r.url, login)
		tabs[login].available()
	}
	out := r.call(t, addr)

	first := ""
	for deadline := time.Now().Add(20 * time.Second); first == ""; {
		if time.Now().After(deadline) {
			t.Fatal("no helper's browser rang")
		}
		for login, p := range tabs {
			if eval[bool](p, `window.moroz.phone.calls.size > 0`) {
				first = login
			}
		}
	}
	second := "ded"
	if first == "ded" {
		second = "snegurochka"
	}
	tabs[first].shot("rona-ringing")
	tabs[first].until("the unanswered ring stops", `window.moroz.phone.calls.size === 0`)
	tabs[second].click("the next helper answers", `#phone-answer`)
	tabs[second].until("the next helper hears the caller", `[...window.moroz.phone.calls.values()].some((c) => c.state === 'talking')`)
	tabs[second].click("hang up", `#phone-hangup`)
	<-out.Done()

	calls, err := r.store.ListCalls(context.Background(), store.CallFilter{})
	if err != nil || len(calls) != 1 {
		t.Fatalf("call records: got %d, %v; want 1", len(calls), err)
	}
	if c := calls[0]; c.Outcome != acd.OutcomeAnswered || c.HelperID != ids[second] {
		t.Errorf("call record: got outcome %q helper %d, want answered by %s (%d)", c.Outcome, c.HelperID, second, ids[second])
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

// A helper whose tab closes mid-call and does not come back within the
// grace period is lost: the caller goes back to the queue, ahead of later
// callers, and the router offers the call to another helper, who takes it.
func TestLostHelperPutsTheCallerBack(t *testing.T) {
	r := newRig(t)
	addr := r.startSIP(t)
	root := browser(t)
	lost, next := newTab(t, root), newTab(t, root)
	r.callHelper(t, "ded")
	nextID := r.callHelper(t, "snegurochka")
	lost.login(r.url, "ded")
	lost.available()
	out := r.call(t, addr)
	lost.click("the first helper answers", `#phone-answer`)
	lost.until("the first helper hears the caller", hears(callerHz))

	next.login(r.url, "snegurochka")
	next.available()
	lost.cancel() // the tab is gone for good
	next.click("the other helper answers the returned caller", `#phone-answer`)
	next.until("the other helper hears the caller", hears(callerHz))
	next.shot("lost-taken-over")
	next.click("hang up", `#phone-hangup`)
	<-out.Done()

	calls, err := r.store.ListCalls(context.Background(), store.CallFilter{})
	if err != nil || len(calls) != 1 {
		t.Fatalf("call records: got %d, %v; want 1", len(calls), err)
	}
	if c := calls[0]; c.Outcome != acd.OutcomeAnswered || c.HelperID != nextID {
		t.Errorf("call record: got outcome %q helper %d, want answered by snegurochka (%d)", c.Outcome, c.HelperID, nextID)
	}
}

// A helper transfers a talking call to another helper: their leg ends,
// the call rings the other helper's browser, who takes it.
func TestTransferToAnotherHelper(t *testing.T) {
	r := newRig(t)
	addr := r.startSIP(t)
	root := browser(t)
	from, to := newTab(t, root), newTab(t, root)
	r.callHelper(t, "ded")
	toID := r.callHelper(t, "snegurochka")
	from.login(r.url, "ded")
	from.available()
	out := r.call(t, addr)
	from.click("answer", `#phone-answer`)
	from.until("hears the caller", hears(callerHz))

	to.login(r.url, "snegurochka")
	to.available()
	from.until("the other helper is listed", fmt.Sprintf(`!!document.querySelector('#phone-transfer-to option[value="h:%d"]')`, toID))
	from.run("choose the other helper", chromedp.SetValue(chromedp.CSS(`#phone-transfer-to`), fmt.Sprintf("h:%d", toID)))
	from.shot("transfer")
	from.click("transfer", `#phone-transfer`)
	from.until("the first panel closes", `window.moroz.phone.calls.size === 0`)
	to.click("the other helper answers", `#phone-answer`)
	to.until("the other helper hears the caller", hears(callerHz))
	to.click("hang up", `#phone-hangup`)
	<-out.Done()

	calls, err := r.store.ListCalls(context.Background(), store.CallFilter{})
	if err != nil || len(calls) != 1 {
		t.Fatalf("call records: got %d, %v; want 1", len(calls), err)
	}
	if c := calls[0]; c.Outcome != acd.OutcomeAnswered || c.HelperID != toID {
		t.Errorf("call record: got outcome %q helper %d, want answered by snegurochka (%d)", c.Outcome, c.HelperID, toID)
	}
}
