package voice_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/voice"
)

// A helper takes a waiting call in the console before their desk phone
// (baresip) rang: Moroz rings the phone then, and its answer bridges the
// caller to it, as an answer to an offer does.
func TestConsoleAcceptRingsTheDeskPhone(t *testing.T) {
	needPeer(t, "sipp", "sip-tester")
	var ringable atomic.Bool // the phone cannot ring until the helper accepted
	var h *harness
	h = newHarness(t, func(o *voice.Options) {
		o.Phone = func(ctx context.Context, helperID int64) (string, error) {
			if !ringable.Load() {
				return "", nil
			}
			p, err := h.st.Helper(ctx, helperID)
			return p.Extension, err
		}
	})
	phone, phoneDir := deskPhone(t)
	helper := h.addHelper(t, "elf", phone, acd.StatusAway)
	acceptInConsole(t, h, helper, &ringable)
	if err := h.work.SetStatus(context.Background(), helper, acd.StatusAvailable, "test"); err != nil {
		t.Fatal(err)
	}
	sink := newSink(t)
	stop := sink.speak(h, callerHz)
	h.sipp(t, "answer.xml", "+79031234568", sink)
	id := h.awaitEnd(t)
	stop()

	checkBridged(t, h, id, helper, sink, phoneDir)
}

// A helper with no phone to ring who takes a waiting call in the console
// cannot talk to the caller: the call is taken back from them and waits
// on, until the caller hangs up (a missed call).
func TestConsoleAcceptWithoutPhoneGivesTheCallBack(t *testing.T) {
	needPeer(t, "sipp", "sip-tester")
	h := newHarness(t, nil)
	helper := h.addHelper(t, "elf", "", acd.StatusAway)
	recalled := make(chan acd.Event, 4)
	t.Cleanup(h.work.Listen(func(e acd.Event) {
		if e.Type == acd.EventRecalled && e.Channel == acd.Voice {
			recalled <- e
		}
	}))
	acceptInConsole(t, h, helper, nil)
	if err := h.work.SetStatus(context.Background(), helper, acd.StatusAvailable, "test"); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.sipp(t, "hangup.xml", "+79031234569", newSink(t), "-d", "4000")
	}()
	e := awaitEvent(t, recalled)
	if e.HelperID != helper {
		t.Errorf("recalled from helper %d, want %d", e.HelperID, helper)
	}
	<-done
	id := h.awaitEnd(t)
	rec, err := h.st.Call(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != acd.OutcomeAbandoned || rec.HelperID != 0 {
		t.Errorf("call record: got outcome %q helper %d, want abandoned with no helper", rec.Outcome, rec.HelperID)
	}
}

// acceptInConsole has helper accept the first call offered to them, as
// a click in the console does, after setting ringable (when not nil).
func acceptInConsole(t *testing.T, h *harness, helper int64, ringable *atomic.Bool) {
	t.Helper()
	offers := make(chan int64, 4)
	t.Cleanup(h.work.Listen(func(e acd.Event) {
		if e.Type == acd.EventOffered && e.HelperID == helper && e.Channel == acd.Voice {
			select {
			case offers <- e.ItemID:
			default:
			}
		}
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-ctx.Done():
		case id := <-offers:
			if ringable != nil {
				ringable.Store(true)
			}
			if err := h.work.Accept(ctx, id, helper); err != nil {
				t.Errorf("accept call %d in the console: %v", id, err)
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}
