package ari_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/sip/ari"
	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/voice"
)

// outcome is what a call left in the store, the fields compared.
type outcome struct {
	Outcome   acd.Outcome
	Reason    string
	From, To  string
	Helper    bool
	Callbacks int
	Messages  int
}

func (r *rig) outcome(t *testing.T, id string) outcome {
	t.Helper()
	rec := r.awaitEnd(t, id)
	return outcome{Outcome: rec.Outcome, Reason: rec.Reason, From: rec.From, To: rec.To, Helper: rec.HelperID != 0,
		Callbacks: len(r.openItems(t, acd.Callback)), Messages: len(r.openItems(t, acd.Voicemail))}
}

// noChannelsLeft checks that Moroz left nothing behind in Asterisk.
func (r *rig) noChannelsLeft(t *testing.T) {
	t.Helper()
	if got := r.fake.Channels(); len(got) != 0 {
		t.Errorf("channels left in asterisk: %v", got)
	}
	if got := r.fake.Bridges(); len(got) != 0 {
		t.Errorf("bridges left in asterisk: %v", got)
	}
}

func TestCallerChoices(t *testing.T) {
	tests := []struct {
		name  string
		press rune // while waiting; 0 hangs up
		speak time.Duration
		want  outcome
	}{
		{name: "abandoned in queue",
			want: outcome{Outcome: acd.OutcomeAbandoned, Reason: voice.ReasonAbandoned, Callbacks: 1}},
		{name: "callback requested", press: '2',
			want: outcome{Outcome: voice.OutcomeCallback, Reason: voice.ReasonCallback, Callbacks: 1}},
		{name: "voicemail left", press: '1', speak: 2500 * time.Millisecond,
			want: outcome{Outcome: acd.OutcomeVoicemail, Reason: voice.ReasonVoicemail, Callbacks: 1, Messages: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.addHelper(t, "olga", "") // a console helper who never takes it
			id := r.fake.NewCall("+375 29 123-45-67", "100")
			r.awaitEvent(t, acd.EventEnqueued)
			switch {
			case tt.press == 0:
				r.fake.Hangup(id, ari.CauseNormal)
			case tt.speak > 0:
				r.fake.Press(id, tt.press)
				r.speak(t, id, tt.speak)
				r.fake.Hangup(id, ari.CauseNormal)
			default:
				r.fake.Press(id, tt.press)
			}
			tt.want.From, tt.want.To = "+375291234567", "100"
			if diff := cmp.Diff(r.outcome(t, id), tt.want); diff != "" {
				t.Errorf("call outcome (-got +want):\n%s", diff)
			}
			if tt.speak > 0 {
				r.checkMessage(t, id)
			}
			r.noChannelsLeft(t)
		})
	}
}

// checkMessage checks that the caller's voicemail holds what they said
// over external media: the 1 kHz tone, for more than a second.
func (r *rig) checkMessage(t *testing.T, id string) {
	t.Helper()
	vms, err := r.st.ListVoicemails(context.Background(), 10)
	if err != nil || len(vms) != 1 {
		t.Fatalf("voicemails %v, %v; want one", vms, err)
	}
	if vms[0].CallID != id {
		t.Errorf("voicemail of call %s, want %s", vms[0].CallID, id)
	}
	clip, err := media.LoadWAV(filepath.Join(r.dir, vms[0].Path))
	if err != nil {
		t.Fatal(err)
	}
	s := clip.Samples()
	if len(s) < media.SampleRate || goertzel(s, 1000) < 0.5 {
		t.Errorf("message of %d samples, 1 kHz power %.2f; want over a second of the tone", len(s), goertzel(s, 1000))
	}
}

// speak sends a 1 kHz tone for d from the phone of channel id.
func (r *rig) speak(t *testing.T, id string, d time.Duration) {
	t.Helper()
	ep, ok := r.fake.Media(id)
	if !ok {
		t.Fatalf("channel %s has no external media bridged", id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), awaitTimeout)
	defer cancel()
	if err := ep.Speak(ctx, sine(1000, d)); err != nil {
		t.Fatal(err)
	}
}

func TestGreetingReachesCaller(t *testing.T) {
	r := newRig(t)
	r.addHelper(t, "olga", "")
	id := r.fake.NewCall("+375291234567", "100")
	r.awaitEvent(t, acd.EventEnqueued)
	ep, ok := r.fake.Media(id)
	if !ok {
		t.Fatal("no external media bridged with the caller")
	}
	r.fake.Press(id, '2')
	r.awaitEnd(t, id)
	heard := ep.Heard()
	if got := goertzel(heard, 440); len(heard) < 1600 || got < 0.5 {
		t.Errorf("caller heard %d samples, 440 Hz power %.2f; want the greeting's tone (>= 0.5)", len(heard), got)
	}
	want := []string{"POST answer", "POST externalMedia", "POST create", "POST addChannel"}
	if got := r.fake.Requests(); !isSubsequence(want, got) {
		t.Errorf("requests %v; want in order %v", got, want)
	}
}

func isSubsequence(want, got []string) bool {
	for _, g := range got {
		if len(want) > 0 && g == want[0] {
			want = want[1:]
		}
	}
	return len(want) == 0
}

func TestDrainTurnsCallersAway(t *testing.T) {
	r := newRig(t)
	r.app.Drain()
	hungUp := r.fake.NextRequest("DELETE hangup")
	id := r.fake.NewCall("+375291234567", "100")
	await(t, hungUp, "hangup of a caller arriving while draining")
	if got := r.fake.Channels(); len(got) != 0 {
		t.Errorf("channels %v after the turned away caller %s", got, id)
	}
	if got := r.app.ActiveCalls(); got != 0 {
		t.Errorf("active calls %d while draining, want 0", got)
	}
	if _, err := r.st.Call(context.Background(), id); err == nil {
		t.Error("a turned away caller has a call record; the flow ran")
	}
}
