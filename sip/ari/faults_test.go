package ari_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/sip/ari"
	"github.com/morozhq/moroz/sip/ari/aritest"
	"github.com/morozhq/moroz/voice"
)

// reconnected drops the events websocket (by drop) and waits until the
// app connected again.
func (r *rig) reconnected(t *testing.T, drop func()) {
	t.Helper()
	n, next := r.fake.Connections()
	drop()
	await(t, next, "reconnection of the events websocket")
	if got, _ := r.fake.Connections(); got != n+1 {
		t.Errorf("connections %d, want %d", got, n+1)
	}
}

func TestWebsocketDroppedMidCall(t *testing.T) {
	r := newRig(t)
	r.addHelper(t, "olga", "")
	id := r.fake.NewCall("+375291234567", "100")
	r.awaitEvent(t, acd.EventEnqueued)
	r.reconnected(t, r.fake.DropEvents)

	r.fake.Press(id, '2') // heard only if the call survived the drop
	want := outcome{Outcome: voice.OutcomeCallback, Reason: voice.ReasonCallback, From: "+375291234567", To: "100", Callbacks: 1}
	if diff := cmp.Diff(r.outcome(t, id), want); diff != "" {
		t.Errorf("call outcome (-got +want):\n%s", diff)
	}
	if got := r.app.Connections(); got != 2 {
		t.Errorf("app connections %d, want 2", got)
	}
	r.noChannelsLeft(t)
}

func TestAsteriskRestartMidCall(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string        // the helper's phone; "" answers in the console
		during   acd.EventType // when Asterisk restarts
		want     outcome
	}{
		{name: "waiting", during: acd.EventEnqueued,
			want: outcome{Outcome: acd.OutcomeAbandoned, Reason: ari.ReasonDropped, Callbacks: 1}},
		{name: "talking to a helper", endpoint: "PJSIP/helper7", during: acd.EventConnected,
			want: outcome{Outcome: acd.OutcomeAnswered, Reason: ari.ReasonDropped, Helper: true, Callbacks: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.addHelper(t, "ivan", tt.endpoint)
			id := r.fake.NewCall("+375291234567", "100")
			r.awaitEvent(t, tt.during)
			r.reconnected(t, r.fake.Restart)

			tt.want.From, tt.want.To = "+375291234567", "100"
			if diff := cmp.Diff(r.outcome(t, id), tt.want); diff != "" {
				t.Errorf("call outcome (-got +want):\n%s", diff)
			}
			r.noChannelsLeft(t)
		})
	}
}

func TestUnknownEventTypes(t *testing.T) {
	r := newRig(t)
	r.addHelper(t, "olga", "")
	id := r.fake.NewCall("+375291234567", "100")
	r.awaitEvent(t, acd.EventEnqueued)

	var sent int
	for _, typ := range r.fake.Spec().EventTypes() {
		if slices.Contains(ari.HandledEvents(), typ) {
			continue
		}
		r.fake.Send(typ, nil)
		sent++
	}
	r.fake.SendRaw([]byte(`{"type": 7}`))
	r.fake.SendRaw([]byte(`not json`))
	sent += 2
	r.fake.Press(id, '2') // read after every event before it

	if got := r.outcome(t, id); got.Outcome != voice.OutcomeCallback {
		t.Errorf("outcome %q after unknown events, want %q", got.Outcome, voice.OutcomeCallback)
	}
	if got := r.client.UnknownEvents(); got != uint64(sent) {
		t.Errorf("unknown events counted %d, want %d", got, sent)
	}
	if sent < 30 {
		t.Errorf("only %d unhandled event types sent; the documents define more", sent)
	}
}

func TestARIErrors(t *testing.T) {
	tests := []struct {
		name         string
		method, path string
		press        rune // 0: Moroz must hang up by itself
		want         outcome
	}{
		{name: "answer refused", method: "POST", path: "/channels/1*", // the caller's id
			want: outcome{Reason: voice.ReasonFailed}},
		{name: "external media refused", method: "POST", path: "/channels/externalMedia",
			want: outcome{Reason: voice.ReasonFailed}},
		{name: "bridge refused", method: "POST", path: "/bridges",
			want: outcome{Reason: voice.ReasonFailed}},
		{name: "originate refused", method: "POST", path: "/channels", press: '2',
			want: outcome{Outcome: voice.OutcomeCallback, Reason: voice.ReasonCallback, Callbacks: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.fake.Fail(tt.method, tt.path, http.StatusInternalServerError, "Allocation failed")
			r.addHelper(t, "ivan", "PJSIP/helper7")
			id := r.fake.NewCall("+375291234567", "100")
			if tt.press != 0 {
				r.awaitEvent(t, acd.EventRejected)
				r.fake.Press(id, tt.press)
			}
			got := r.outcome(t, id)
			got.From, got.To = "", ""
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("call outcome (-got +want):\n%s", diff)
			}
			r.noChannelsLeft(t)
		})
	}
}

// A caller who arrived while Moroz was disconnected is adopted on
// reconnection, and what an earlier run left in Asterisk is removed.
func TestReconcileAdoptsAndSweeps(t *testing.T) {
	r := newRig(t)
	r.addHelper(t, "olga", "")
	r.fake.Pause()
	n, next := r.fake.Connections()
	r.fake.DropEvents()

	ctx := context.Background()
	id := r.fake.NewCall("+375291234567", "100") // its StasisStart is lost
	if _, err := r.client.CreateBridge(ctx, "moroz-bridge-old", "left over"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.client.ExternalMedia(ctx, ari.ExternalMediaParams{ChannelID: "moroz-media-old",
		ExternalHost: "127.0.0.1:9", Format: "ulaw"}); err != nil {
		t.Fatal(err)
	}
	r.fake.Resume()
	await(t, next, "reconnection")
	if got, _ := r.fake.Connections(); got != n+1 {
		t.Errorf("connections %d, want %d", got, n+1)
	}

	r.awaitEvent(t, acd.EventEnqueued) // the adopted call runs the flow
	if slices.Contains(r.fake.Channels(), "moroz-media-old") {
		t.Error("left over external media channel not hung up")
	}
	if _, ok := r.fake.Bridges()["moroz-bridge-old"]; ok {
		t.Error("left over bridge not destroyed")
	}
	r.fake.Press(id, '2')
	if got := r.outcome(t, id); got.Outcome != voice.OutcomeCallback {
		t.Errorf("adopted call's outcome %q, want %q", got.Outcome, voice.OutcomeCallback)
	}
	r.noChannelsLeft(t)
}

// A caller's channel Asterisk would not hang up is hung up again after
// the next reconnection, not adopted as a new call.
func TestRefusedHangupRetried(t *testing.T) {
	r := newRig(t)
	r.addHelper(t, "olga", "")
	id := r.fake.NewCall("+375291234567", "100")
	r.awaitEvent(t, acd.EventEnqueued)
	r.fake.Fail("DELETE", "/channels/"+id, http.StatusInternalServerError, "Internal Server Error")
	r.fake.Press(id, '2')
	if got := r.outcome(t, id); got.Outcome != voice.OutcomeCallback {
		t.Errorf("outcome %q, want %q", got.Outcome, voice.OutcomeCallback)
	}
	if !slices.Contains(r.fake.Channels(), id) {
		t.Fatal("the refused hangup ended the channel anyway; the test proves nothing")
	}
	hungUp := r.fake.NextRequest("DELETE hangup")
	r.reconnected(t, r.fake.DropEvents)
	await(t, hungUp, "the hangup retried")
	r.noChannelsLeft(t)
	if got := r.app.ActiveCalls(); got != 0 {
		t.Errorf("active calls %d, want 0: the channel was adopted", got)
	}
}

// A drop of the events websocket while the caller talks to a helper's
// phone leaves the talk alone: the audio goes on both ways after the
// reconnection, and the caller's hangup then ends the call answered.
func TestWebsocketDroppedWhileTalking(t *testing.T) {
	r := newRig(t)
	r.addHelper(t, "ivan", "PJSIP/helper7")
	id := r.fake.NewCall("+375291234567", "100")
	r.awaitEvent(t, acd.EventConnected)
	r.reconnected(t, r.fake.DropEvents)

	helper := r.helperChannel(t, "PJSIP/helper7")
	callerEP, ok := r.fake.Media(id)
	helperEP, ok2 := r.fake.Media(helper)
	if !ok || !ok2 {
		t.Fatalf("external media bridged after the drop: caller %t, helper %t", ok, ok2)
	}
	talk(t, map[*aritest.Endpoint][]int16{callerEP: sine(1000, time.Second), helperEP: sine(700, time.Second)})
	r.fake.Hangup(id, ari.CauseNormal)

	want := outcome{Outcome: acd.OutcomeAnswered, From: "+375291234567", To: "100", Helper: true}
	if diff := cmp.Diff(r.outcome(t, id), want); diff != "" {
		t.Errorf("call outcome (-got +want):\n%s", diff)
	}
	if got := goertzel(tail(helperEP.Heard(), 4000), 1000); got < 0.5 {
		t.Errorf("after the drop the helper heard the caller's 1 kHz at power %.2f; want >= 0.5", got)
	}
	if got := goertzel(tail(callerEP.Heard(), 4000), 700); got < 0.5 {
		t.Errorf("after the drop the caller heard the helper's 700 Hz at power %.2f; want >= 0.5", got)
	}
	r.noChannelsLeft(t)
}
