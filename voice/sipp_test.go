package voice_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/voice"
)

// A caller who hangs up on hold twice from one number leaves two missed
// calls and one open callback, created at the first call's arrival, with
// the second miss added to it.
func TestHangupWhileQueuedLeavesOneCallback(t *testing.T) {
	h := newHarness(t, nil)
	h.addHelper(t, "elf", "", acd.StatusAway) // logged in, not free: the call waits
	const number = "+375291234567"
	sink := newSink(t)
	for range 2 {
		h.sipp(t, "hangup.xml", number, sink, "-d", "1500")
		h.awaitEnd(t)
	}

	ctx := context.Background()
	calls, err := h.st.ListCalls(ctx, store.CallFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 {
		t.Fatalf("call records: got %d, want 2", len(calls))
	}
	for _, c := range calls {
		if c.Reason != voice.ReasonAbandoned || c.Outcome != acd.OutcomeAbandoned || c.From != number {
			t.Errorf("call %s: got reason %q outcome %q from %q, want %q %q %q", c.CallID, c.Reason, c.Outcome, c.From,
				voice.ReasonAbandoned, acd.OutcomeAbandoned, number)
		}
		if c.ItemID == 0 || c.AnsweredAt.IsZero() || c.EnqueuedAt.IsZero() || c.EndedAt.IsZero() || !c.ConnectedAt.IsZero() {
			t.Errorf("call %s: got item %d answered %v enqueued %v ended %v connected %v, want all but connected set",
				c.CallID, c.ItemID, c.AnsweredAt, c.EnqueuedAt, c.EndedAt, c.ConnectedAt)
		}
	}
	first := calls[1] // newest first

	cbs, err := h.st.ListItems(ctx, store.ItemFilter{Channel: acd.Callback, Open: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(cbs) != 1 {
		t.Fatalf("open callbacks: got %d, want 1", len(cbs))
	}
	if !cbs[0].CreatedAt.Equal(first.ArrivedAt.Truncate(time.Microsecond)) {
		t.Errorf("callback created: got %v, want the first call's arrival %v", cbs[0].CreatedAt, first.ArrivedAt)
	}
	if cbs[0].ParentID != first.ItemID {
		t.Errorf("callback parent: got %d, want the first call's item %d", cbs[0].ParentID, first.ItemID)
	}
	evs, err := h.st.Events(ctx, cbs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var again int
	for _, e := range evs {
		if e.Type == voice.EventMissedAgain {
			again++
		}
	}
	if again != 1 {
		t.Errorf("%s events on the callback: got %d, want 1", voice.EventMissedAgain, again)
	}
	for _, c := range calls {
		if got := h.awaitClosed(t, c.ItemID); got != acd.OutcomeAbandoned {
			t.Errorf("call item %d: got outcome %q, want abandoned", c.ItemID, got)
		}
	}
	// The caller heard the greeting and hold: audio arrived at the SDP address.
	if got := len(sink.samples(media.PCMA)); got < media.SampleRate/2 {
		t.Errorf("audio at the caller: got %d samples, want at least %d", got, media.SampleRate/2)
	}
}

// A caller who presses 1 on hold leaves a message: the WAV holds their
// speech, a voicemail item follows the call's item, and the call record
// says why it was missed.
func TestPressOneLeavesVoicemail(t *testing.T) {
	h := newHarness(t, nil)
	h.addHelper(t, "elf", "", acd.StatusAway)
	h.sipp(t, "press1.xml", "+79161234567", newSink(t))
	id := h.awaitEnd(t)

	ctx := context.Background()
	rec, err := h.st.Call(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Reason != voice.ReasonVoicemail || rec.Outcome != acd.OutcomeVoicemail {
		t.Errorf("call record: got reason %q outcome %q, want %q %q", rec.Reason, rec.Outcome, voice.ReasonVoicemail, acd.OutcomeVoicemail)
	}
	vms, err := h.st.ListVoicemails(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(vms) != 1 {
		t.Fatalf("voicemails: got %d, want 1", len(vms))
	}
	vm := vms[0]
	clip, err := media.LoadWAV(filepath.Join(h.dir, filepath.FromSlash(vm.Path)))
	if err != nil {
		t.Fatal(err)
	}
	if got := time.Duration(len(clip.Samples())) * time.Second / media.SampleRate; got < 2*time.Second {
		t.Errorf("message length: got %v, want at least 2s", got)
	}
	if e := rms(clip.Samples()); e < 200 {
		t.Errorf("message energy: got rms %.0f, want the caller's speech above 200", e)
	}
	it, err := h.st.Item(ctx, vm.ItemID)
	if err != nil {
		t.Fatal(err)
	}
	if it.Channel != acd.Voicemail || it.ParentID != rec.ItemID || it.State == acd.StateClosed {
		t.Errorf("voicemail item: got %s parent %d state %s, want an open voicemail item after call item %d",
			it.Channel, it.ParentID, it.State, rec.ItemID)
	}
}

// SIPp's built-in uac_pcap caller speaks on hold, presses 1 and hangs up
// a second later, before saying enough for a message: a missed call with
// the reason voicemail, and a callback for the number.
func TestBuiltinUACPcapCaller(t *testing.T) {
	h := newHarness(t, nil)
	h.addHelper(t, "elf", "", acd.StatusAway)
	h.sipp(t, "builtin:uac_pcap", "", newSink(t))
	id := h.awaitEnd(t)

	ctx := context.Background()
	rec, err := h.st.Call(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Reason != voice.ReasonVoicemail || rec.From != "sipp" || rec.ItemID == 0 {
		t.Errorf("call record: got reason %q from %q item %d, want %q from sipp, queued", rec.Reason, rec.From, rec.ItemID, voice.ReasonVoicemail)
	}
	if got := h.awaitClosed(t, rec.ItemID); got != acd.OutcomeVoicemail {
		t.Errorf("call item outcome: got %q, want voicemail (the caller chose it)", got)
	}
	cbs, err := h.st.ListItems(ctx, store.ItemFilter{Channel: acd.Callback, Open: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(cbs) != 1 || cbs[0].Subject != "sipp" {
		t.Errorf("open callbacks: got %d (%+v), want one for sipp", len(cbs), cbs)
	}
}
