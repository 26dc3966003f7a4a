package voice_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/voice"
)

// trunk runs SIPp as a SIP trunk answering one call (testdata/sipp/
// trunk.xml) with its audio at sink; it returns the trunk's address and
// a wait for SIPp's end.
func trunk(t *testing.T, sink *rtpSink) (addr string, wait func() error) {
	t.Helper()
	return trunkScenario(t, "trunk.xml", sink)
}

// trunkScenario is trunk with the scenario name of testdata/sipp; a nil
// sink is for a scenario that answers no audio.
func trunkScenario(t *testing.T, name string, sink *rtpSink) (addr string, wait func() error) {
	t.Helper()
	return trunkCalls(t, name, sink, 1)
}

// trunkCalls is trunkScenario for calls calls.
func trunkCalls(t *testing.T, name string, sink *rtpSink, calls int) (addr string, wait func() error) {
	t.Helper()
	bin := needPeer(t, "sipp", "sip-tester")
	scen, err := filepath.Abs(filepath.Join("testdata", "sipp", name))
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	args := []string{"-sf", scen, "-m", itoa(calls), "-i", "127.0.0.1", "-p", port, "-timeout", "60s", "-timeout_error", "-nostdin"}
	if sink != nil {
		args = append(args, "-set", "rtp_ip", "127.0.0.1", "-set", "rtp_port", sink.port())
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = t.TempDir()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var werr error
	done := make(chan struct{})
	go func() { werr = cmd.Wait(); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return "127.0.0.1:" + port, func() error { <-done; return werr }
}

// startCallbacks runs voice.Callbacks over the harness with trunk at
// addr until the test ends.
func startCallbacks(t *testing.T, h *harness, addr string) {
	t.Helper()
	startCallbacksWith(t, h, voice.TrunkConfig{Target: addr, CallerID: "ded"})
}

func startCallbacksWith(t *testing.T, h *harness, trunk voice.TrunkConfig) {
	t.Helper()
	startCallbacksOpt(t, h, trunk, voice.CallbackOptions{})
}

// startCallbacksOpt is startCallbacksWith with the retry policy and the
// Talking hook of opt.
func startCallbacksOpt(t *testing.T, h *harness, trunk voice.TrunkConfig, opt voice.CallbackOptions) {
	t.Helper()
	d, err := voice.SIPCallbacks(h.dialer, trunk)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := voice.NewCallbacks(voice.CallbackOptions{Work: h.work, Store: h.st, Dialer: d,
		Phone: func(ctx context.Context, helperID int64) (string, error) {
			p, err := h.st.Helper(ctx, helperID)
			return p.Extension, err
		}, RetryAfter: opt.RetryAfter, MaxAttempts: opt.MaxAttempts, Talking: opt.Talking, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); cb.Run(ctx, nil) }()
	t.Cleanup(func() { cancel(); <-done })
}

// acceptOffers has helper accept the callbacks offered to them, at most
// n, as a helper clicks accept in the console.
func acceptOffers(t *testing.T, h *harness, helper int64, n int) {
	t.Helper()
	offers := make(chan int64, 8)
	t.Cleanup(h.work.Listen(func(e acd.Event) {
		if e.Type == acd.EventOffered && e.HelperID == helper && e.Channel == acd.Callback {
			offers <- e.ItemID
		}
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n {
			select {
			case <-ctx.Done():
				return
			case id := <-offers:
				if err := h.work.Accept(ctx, id, helper); err != nil {
					t.Errorf("accept callback %d: %v", id, err)
				}
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// A helper accepts a callback: Moroz rings their desk phone (baresip),
// then calls the number through the trunk (SIPp) and bridges the two; the
// phone's tone reaches the called person and theirs the phone, and when
// they hang up the callback is closed called-back. Talking is told of the
// bridge, with the item and both legs' media, and of its end.
func TestCallbackThroughTrunk(t *testing.T) {
	h := newHarness(t, nil)
	sink := newSink(t)
	addr, wait := trunk(t, sink)
	type talked struct {
		item, helper int64
		media        bool // both legs have media
	}
	talking, ended := make(chan talked, 1), make(chan struct{})
	startCallbacksOpt(t, h, voice.TrunkConfig{Target: addr, CallerID: "ded"}, voice.CallbackOptions{
		Talking: func(it store.Item, helper int64, leg, callee voice.Leg) func() {
			type withMedia interface{ Media() *media.Leg }
			l, ok1 := leg.(withMedia)
			c, ok2 := callee.(withMedia)
			talking <- talked{it.ID, helper, ok1 && ok2 && l.Media() != nil && c.Media() != nil}
			return func() { close(ended) }
		}})
	phone, phoneDir := deskPhone(t)
	stop := sink.speakBack(callerHz)
	defer stop()

	helper := callbackHelper(t, h, phone)
	acceptOffers(t, h, helper, 1)
	it := h.callBack(t, helper, "+375 29 111-22-33", "callback:test")
	if got := h.awaitClosed(t, it.ID); got != acd.OutcomeCalledBack {
		t.Errorf("callback outcome: got %q, want %q", got, acd.OutcomeCalledBack)
	}
	select {
	case got := <-talking:
		if want := (talked{it.ID, helper, true}); got != want {
			t.Errorf("Talking: got %+v, want %+v", got, want)
		}
	default:
		t.Error("Talking was not told of the callback's bridge")
	}
	select {
	case <-ended:
	default:
		t.Error("Talking's end was not called before the callback closed")
	}
	if err := wait(); err != nil {
		t.Errorf("trunk (sipp): %v", err)
	}
	stop()

	if got := toneWindows(sink.samples(media.PCMA), toneHz); got < 10 {
		t.Errorf("called person's audio: got %d windows of 200 ms of the phone's %d Hz, want at least 10", got, toneHz)
	}
	if got := toneWindows(phoneDump(t, phoneDir), callerHz); got < 10 {
		t.Errorf("phone's audio: got %d windows of 200 ms of the called person's %d Hz, want at least 10", got, callerHz)
	}
}

// A number that is busy sends the accepted callback back to its queue,
// its created time kept, with an event saying so.
func TestCallbackNumberBusyGoesBackToQueue(t *testing.T) {
	h := newHarness(t, nil)
	addr, wait := trunkScenario(t, "trunk_busy.xml", nil)
	startCallbacks(t, h, addr)
	phone, _ := deskPhone(t)
	helper := callbackHelper(t, h, phone)
	recalled := make(chan acd.Event, 4)
	t.Cleanup(h.work.Listen(func(e acd.Event) {
		if e.Type == acd.EventRecalled {
			recalled <- e
		}
	}))
	acceptOffers(t, h, helper, 1)
	it := h.callBack(t, helper, "+375291112244", "callback:busy")
	if err := wait(); err != nil {
		t.Errorf("trunk (sipp): %v", err)
	}
	e := awaitEvent(t, recalled)
	if e.ItemID != it.ID || !e.Created.Equal(it.CreatedAt) {
		t.Errorf("recalled: got item %d created %v, want item %d created %v", e.ItemID, e.Created, it.ID, it.CreatedAt)
	}
	evs, err := h.st.Events(context.Background(), it.ID)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range evs {
		types = append(types, ev.Type)
	}
	if !slices.Contains(types, voice.EventCallbackUnanswered) {
		t.Errorf("events of the callback: got %v, want one %s", types, voice.EventCallbackUnanswered)
	}
}

// A number busy at every attempt is called again only after the retry
// delay, then its callback closes unreachable after the last attempt,
// each attempt in its history.
func TestCallbackRetriedThenUnreachable(t *testing.T) {
	h := newHarness(t, nil)
	addr, wait := trunkCalls(t, "trunk_busy.xml", nil, 2)
	const retry = 2 * time.Second
	startCallbacksOpt(t, h, voice.TrunkConfig{Target: addr, CallerID: "ded"},
		voice.CallbackOptions{RetryAfter: retry, MaxAttempts: 2})
	phone, _ := deskPhone(t)
	helper := callbackHelper(t, h, phone)
	offered := make(chan time.Time, 4)
	t.Cleanup(h.work.Listen(func(e acd.Event) {
		if e.Type == acd.EventOffered && e.Channel == acd.Callback {
			offered <- e.At
		}
	}))
	acceptOffers(t, h, helper, 2)
	it := h.callBack(t, helper, "+375291112266", "callback:retry")
	if got := h.awaitClosed(t, it.ID); got != acd.OutcomeUnreachable {
		t.Errorf("callback outcome: got %q, want %q", got, acd.OutcomeUnreachable)
	}
	if err := wait(); err != nil {
		t.Errorf("trunk (sipp): %v", err)
	}

	evs, err := h.st.Events(context.Background(), it.ID)
	if err != nil {
		t.Fatal(err)
	}
	var attempts []map[string]any
	unreachable := 0
	for _, ev := range evs {
		switch ev.Type {
		case voice.EventCallbackUnanswered:
			var a map[string]any
			if err := json.Unmarshal(ev.Data, &a); err != nil {
				t.Fatalf("%s data %s: %v", ev.Type, ev.Data, err)
			}
			attempts = append(attempts, a)
		case voice.EventCallbackUnreachable:
			unreachable++
		}
	}
	if len(attempts) != 2 || unreachable != 1 {
		t.Fatalf("history: got %d unanswered attempts and %d unreachable, want 2 and 1: %v", len(attempts), unreachable, attempts)
	}
	if attempts[0]["cause"] != "busy" || attempts[0]["retry_at"] == nil || attempts[1]["retry_at"] != nil {
		t.Errorf("attempts: got %v, want busy, a retry time on the first only", attempts)
	}
	retryAt, _ := time.Parse(time.RFC3339Nano, attempts[0]["retry_at"].(string))
	first, second := <-offered, <-offered
	if second.Before(retryAt) || second.Sub(first) < retry {
		t.Errorf("second offer at %v, first at %v: want it not before the retry time %v", second, first, retryAt)
	}
}

// A callback waiting for its retry when the node stopped is held back
// after the restart until the retry time its last attempt recorded.
func TestCallbackRetryRestored(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	helper := h.addHelper(t, "elf", "", acd.StatusAway)
	if err := h.work.UpdateHelper(ctx, store.Helper{UserID: helper, Queues: []string{"callbacks"}}); err != nil {
		t.Fatal(err)
	}
	it, _, err := h.work.Submit(ctx, store.Item{Channel: acd.Callback, Subject: "+375291112288",
		ExternalID: "callback:restored"}, store.Event{Type: "missed"})
	if err != nil {
		t.Fatal(err)
	}
	retry := time.Now().Add(2 * time.Second)
	data, _ := json.Marshal(map[string]any{"helper_id": helper, "attempt": 1, "cause": "busy", "retry_at": retry})
	if _, err := h.st.AppendEvent(ctx, store.Event{ItemID: it.ID, Type: voice.EventCallbackUnanswered, Data: data}); err != nil {
		t.Fatal(err)
	}
	cb, err := voice.NewCallbacks(voice.CallbackOptions{Work: h.work, Store: h.st, Dialer: noDialer{},
		Phone: func(context.Context, int64) (string, error) { return "", nil }, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := cb.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	offered := make(chan acd.Event, 1)
	t.Cleanup(h.work.Listen(func(e acd.Event) {
		if e.Type == acd.EventOffered && e.ItemID == it.ID {
			offered <- e
		}
	}))
	if err := h.work.SetStatus(ctx, helper, acd.StatusAvailable, "test"); err != nil {
		t.Fatal(err)
	}
	if info, _ := h.work.Router().Item(it.ID); len(info.OfferedTo) != 0 {
		t.Fatalf("restored callback offered to %v at once, want it held back until %v", info.OfferedTo, retry)
	}
	if e := awaitEvent(t, offered); e.At.Before(retry) {
		t.Errorf("restored callback offered at %v, want not before %v", e.At, retry)
	}
}

// noDialer is a CallbackDialer for tests that dial nothing.
type noDialer struct{}

func (noDialer) RingHelper(context.Context, string, string) (voice.Leg, error) {
	return nil, voice.ErrNoAnswer
}

func (noDialer) CallNumber(context.Context, string, voice.Leg) (voice.Leg, error) {
	return nil, voice.ErrNoAnswer
}

func (noDialer) Bridge(context.Context, voice.Leg, voice.Leg) error { return nil }

func awaitEvent(t *testing.T, ch <-chan acd.Event) acd.Event {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(time.Minute):
		t.Fatal("no event within a minute")
		return acd.Event{}
	}
}

func TestSIPCallbacksTrunkTarget(t *testing.T) {
	tests := []struct {
		target  string
		wantErr bool
	}{
		{"127.0.0.1:5080", false},
		{"sip:trunk.example;transport=udp", false},
		{"sip:ded@trunk.example:5060", false},
		{"", true},
		{"sip:", true},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			_, err := voice.SIPCallbacks(nil, voice.TrunkConfig{Target: tt.target})
			if (err != nil) != tt.wantErr {
				t.Errorf("trunk %q: got error %v, want error %v", tt.target, err, tt.wantErr)
			}
		})
	}
}

// A trunk that asks for digest authentication gets the configured
// account's answer, and the callback goes through.
func TestCallbackThroughTrunkWithDigest(t *testing.T) {
	h := newHarness(t, nil)
	sink := newSink(t)
	addr, wait := trunkScenario(t, "trunk_auth.xml", sink)
	startCallbacksWith(t, h, voice.TrunkConfig{Target: addr, CallerID: "ded", Username: "ded", Password: "trunk-secret"})
	phone, _ := deskPhone(t)
	helper := callbackHelper(t, h, phone)
	acceptOffers(t, h, helper, 1)
	it := h.callBack(t, helper, "+375291112255", "callback:auth")
	if got := h.awaitClosed(t, it.ID); got != acd.OutcomeCalledBack {
		t.Errorf("callback outcome: got %q, want %q", got, acd.OutcomeCalledBack)
	}
	if err := wait(); err != nil {
		t.Errorf("trunk (sipp): %v", err)
	}
}

// callbackHelper adds a helper, away, whose desk phone is phone and who
// takes callbacks.
func callbackHelper(t *testing.T, h *harness, phone string) int64 {
	t.Helper()
	helper := h.addHelper(t, "elf", phone, acd.StatusAway)
	if err := h.work.UpdateHelper(context.Background(), store.Helper{UserID: helper,
		Queues: []string{"callbacks"}, Extension: phone}); err != nil {
		t.Fatal(err)
	}
	return helper
}

// callBack queues a callback to number and makes helper available to
// take it.
func (h *harness) callBack(t *testing.T, helper int64, number, externalID string) store.Item {
	t.Helper()
	it, _, err := h.work.Submit(context.Background(), store.Item{Channel: acd.Callback,
		Subject: number, ExternalID: externalID}, store.Event{Type: "missed"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.work.SetStatus(context.Background(), helper, acd.StatusAvailable, "test"); err != nil {
		t.Fatal(err)
	}
	return it
}
