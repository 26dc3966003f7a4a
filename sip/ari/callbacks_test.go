package ari_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/sip/ari"
	"github.com/morozhq/moroz/sip/ari/aritest"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/voice"
	"github.com/morozhq/moroz/work"
)

// startCallbacks dials accepted callbacks through the app, the numbers
// through the PJSIP endpoint "trunk", until the test ends; the helper
// accepts every callback offered to them.
func (r *rig) startCallbacks(t *testing.T, helper int64) {
	t.Helper()
	d, err := r.app.Callbacks("trunk", "+375170000000")
	if err != nil {
		t.Fatal(err)
	}
	cb, err := voice.NewCallbacks(voice.CallbackOptions{Work: r.work, Store: r.st, Dialer: d,
		Phone: func(ctx context.Context, id int64) (string, error) {
			h, err := r.st.Helper(ctx, id)
			return h.Extension, err
		}, RetryAfter: time.Hour, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	offers := make(chan int64, 8)
	t.Cleanup(r.work.Listen(func(e acd.Event) {
		if e.Type == acd.EventOffered && e.HelperID == helper && e.Channel == acd.Callback {
			offers <- e.ItemID
		}
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { defer func() { done <- struct{}{} }(); cb.Run(ctx, nil) }()
	go func() {
		defer func() { done <- struct{}{} }()
		for {
			select {
			case <-ctx.Done():
				return
			case id := <-offers:
				if err := r.work.Accept(ctx, id, helper); err != nil && ctx.Err() == nil {
					t.Errorf("accept callback %d: %v", id, err)
				}
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done; <-done })
}

// callbackHelper is a helper of the callbacks queue with a phone on
// Asterisk, away until the test has its callback queued.
func (r *rig) callbackHelper(t *testing.T) int64 {
	t.Helper()
	ctx := context.Background()
	u, err := r.st.CreateUser(ctx, store.User{Login: "ivan", Name: "ivan", Role: store.RoleHelper})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.work.UpdateHelper(ctx, store.Helper{UserID: u.ID, Queues: []string{work.QueueCallbacks},
		Extension: "PJSIP/helper7"}); err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// awaitClosedItem waits until item id is closed and returns its outcome.
func (r *rig) awaitClosedItem(t *testing.T, id int64) acd.Outcome {
	t.Helper()
	deadline := time.After(awaitTimeout)
	for {
		it, err := r.st.Item(context.Background(), id)
		if err == nil && it.State == acd.StateClosed {
			return it.Outcome
		}
		select {
		case <-deadline:
			t.Fatalf("item %d not closed within %s", id, awaitTimeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// A helper accepts a callback: Moroz rings their phone on Asterisk, then
// the number through the trunk's endpoint, bridges the two and, when the
// called person hangs up, closes the callback called-back.
func TestCallbackThroughAsterisk(t *testing.T) {
	r := newRig(t)
	helper := r.callbackHelper(t)
	r.startCallbacks(t, helper)
	ctx := context.Background()
	it, _, err := r.work.Submit(ctx, store.Item{Channel: acd.Callback, Subject: "+375 29 111-22-33",
		ExternalID: "callback:test"}, store.Event{Type: "missed"})
	if err != nil {
		t.Fatal(err)
	}
	bridged := r.fake.NextRequest("POST addChannel")
	if err := r.work.SetStatus(ctx, helper, acd.StatusAvailable, "test"); err != nil {
		t.Fatal(err)
	}
	await(t, bridged, "the helper's media")
	number := ""
	deadline := time.After(awaitTimeout)
	for number == "" {
		for id, ep := range r.fake.Originated() {
			if ep == "PJSIP/+375291112233@trunk" {
				number = id
			}
		}
		select {
		case <-deadline:
			t.Fatalf("the number was not rung through the trunk; originated %v", r.fake.Originated())
		case <-time.After(20 * time.Millisecond):
		}
	}
	phone := r.helperChannel(t, "PJSIP/helper7")
	var phoneEP, numberEP *aritest.Endpoint
	for phoneEP == nil || numberEP == nil {
		phoneEP, _ = r.fake.Media(phone)
		numberEP, _ = r.fake.Media(number)
		select {
		case <-deadline:
			t.Fatal("the two legs' media not bridged")
		case <-time.After(20 * time.Millisecond):
		}
	}
	talk(t, map[*aritest.Endpoint][]int16{phoneEP: sine(700, time.Second), numberEP: sine(1000, time.Second)})
	r.fake.Hangup(number, ari.CauseNormal)

	if got := r.awaitClosedItem(t, it.ID); got != acd.OutcomeCalledBack {
		t.Errorf("callback outcome %q, want %q", got, acd.OutcomeCalledBack)
	}
	if got := goertzel(tail(numberEP.Heard(), 4000), 700); got < 0.5 {
		t.Errorf("the called person heard the helper's 700 Hz at power %.2f; want >= 0.5", got)
	}
	if got := goertzel(tail(phoneEP.Heard(), 4000), 1000); got < 0.5 {
		t.Errorf("the helper heard the called person's 1 kHz at power %.2f; want >= 0.5", got)
	}
	waitGone(t, r)
}

// waitGone waits until Moroz left nothing in Asterisk: the helper's
// phone is hung up just after the callback closes.
func waitGone(t *testing.T, r *rig) {
	t.Helper()
	deadline := time.After(awaitTimeout)
	for len(r.fake.Channels()) > 0 || len(r.fake.Bridges()) > 0 {
		select {
		case <-deadline:
			r.noChannelsLeft(t)
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestCallbacksRefuseBadInput(t *testing.T) {
	r := newRig(t)
	for _, trunk := range []string{"", "PJSIP/trunk", "a&b"} {
		if _, err := r.app.Callbacks(trunk, ""); err == nil {
			t.Errorf("Callbacks(%q) accepted a bad trunk", trunk)
		}
	}
	d, err := r.app.Callbacks("trunk", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, number := range []string{"", "+", "123&PJSIP/evil", "12 34", "sip:1@x"} {
		if _, err := d.CallNumber(context.Background(), number, nil); err == nil {
			t.Errorf("CallNumber(%q) dialled", number)
		}
	}
	if got := r.fake.Requests(); slices.Contains(got, "POST originate") {
		t.Errorf("a bad number was originated: %v", got)
	}
}
