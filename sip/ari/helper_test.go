package ari_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/sip/ari"
	"github.com/morozhq/moroz/sip/ari/aritest"
)

// helperChannel is the channel the fake originated to endpoint.
func (r *rig) helperChannel(t *testing.T, endpoint string) string {
	t.Helper()
	for id, ep := range r.fake.Originated() {
		if ep == endpoint {
			return id
		}
	}
	t.Fatalf("no channel originated to %s; have %v", endpoint, r.fake.Originated())
	return ""
}

func TestAnsweredByHelperPhone(t *testing.T) {
	r := newRig(t)
	r.addHelper(t, "ivan", "PJSIP/helper7")
	id := r.fake.NewCall("+375291234567", "100")
	r.awaitEvent(t, acd.EventConnected)

	helper := r.helperChannel(t, "PJSIP/helper7")
	callerEP, ok := r.fake.Media(id)
	helperEP, ok2 := r.fake.Media(helper)
	if !ok || !ok2 {
		t.Fatalf("external media bridged: caller %t, helper %t", ok, ok2)
	}
	talk(t, map[*aritest.Endpoint][]int16{callerEP: sine(1000, time.Second), helperEP: sine(700, time.Second)})
	r.fake.Hangup(id, ari.CauseNormal)

	want := outcome{Outcome: acd.OutcomeAnswered, From: "+375291234567", To: "100", Helper: true}
	if diff := cmp.Diff(r.outcome(t, id), want); diff != "" {
		t.Errorf("call outcome (-got +want):\n%s", diff)
	}
	if got := goertzel(helperEP.Heard(), 1000); got < 0.5 {
		t.Errorf("helper heard the caller's 1 kHz at power %.2f; want >= 0.5", got)
	}
	if got := goertzel(tail(callerEP.Heard(), 4000), 700); got < 0.5 {
		t.Errorf("caller heard the helper's 700 Hz at power %.2f; want >= 0.5", got)
	}
	r.noChannelsLeft(t)
}

// talk makes each endpoint speak its samples, all at once.
func talk(t *testing.T, speech map[*aritest.Endpoint][]int16) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), awaitTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for ep, s := range speech {
		wg.Go(func() {
			if err := ep.Speak(ctx, s); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func tail(s []int16, n int) []int16 { return s[max(0, len(s)-n):] }

func TestHelperPhoneRefuses(t *testing.T) {
	tests := []struct {
		name   string
		cause  int
		reason string
	}{
		{"busy", ari.CauseBusy, "busy"},
		{"declined", ari.CauseCallRejected, "declined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.fake.SetPhones(func(string) aritest.Answer { return aritest.Answer{Cause: tt.cause} })
			r.addHelper(t, "ivan", "PJSIP/helper7")
			id := r.fake.NewCall("+375291234567", "100")
			e := r.awaitEvent(t, acd.EventRejected)
			if e.Reason != tt.reason {
				t.Errorf("rejected with reason %q, want %q", e.Reason, tt.reason)
			}
			r.fake.Press(id, '2')
			if got := r.outcome(t, id); got.Outcome != "callback" || got.Helper {
				t.Errorf("outcome %+v; want a callback without a helper", got)
			}
			r.noChannelsLeft(t)
		})
	}
}
