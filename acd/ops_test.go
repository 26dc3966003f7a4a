package acd_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/morozhq/moroz/acd"
)

func TestQueuePolicies(t *testing.T) {
	tests := []struct {
		name   string
		queue  acd.QueueConfig
		helper bool // a helper of the queue is logged in
		n      int  // items enqueued before the one that must fail
		want   error
	}{
		{"max length", acd.QueueConfig{MaxLength: 2}, false, 2, acd.ErrQueueFull},
		{"max length counts only waiting", acd.QueueConfig{MaxLength: 1}, true, 1, nil},
		{"no helpers rejects", acd.QueueConfig{NoHelpers: acd.NoHelpersReject}, false, 0, acd.ErrNoHelpers},
		{"no helpers, one away", acd.QueueConfig{NoHelpers: acd.NoHelpersReject}, true, 0, nil},
		{"no helpers waits by default", acd.QueueConfig{}, false, 3, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tt.queue.Name = "q"
				f := newFixture(t, acd.Config{Queues: []acd.QueueConfig{tt.queue}})
				if tt.helper {
					f.login(1, []string{"q"}, nil)
				}
				for i := range tt.n {
					f.enqueue(acd.Item{ID: int64(i + 1), Channel: acd.Email, Queue: "q"})
					if tt.helper {
						f.accept(int64(i+1), 1)
					}
				}
				if tt.helper {
					f.must(f.r.SetStatus(1, acd.StatusAway, "break"))
				}
				_, err := f.r.Enqueue(acd.Item{ID: 100, Channel: acd.Voice, Queue: "q"})
				if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
					t.Fatalf("enqueue error %v, want %v", err, tt.want)
				}
				_, open := f.r.Item(100)
				if open != (tt.want == nil) {
					t.Errorf("item open %v after error %v", open, err)
				}
				f.check()
			})
		})
	}
}

func TestTransfer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, queues("a", "b"))
		f.login(1, []string{"a"}, nil)
		f.login(2, []string{"b"}, nil)
		f.login(3, []string{"a"}, nil)
		created := time.Now()
		f.enqueue(acd.Item{ID: 10, Channel: acd.Voice, Queue: "a"})
		f.accept(10, 1)
		advance(time.Minute)

		evs := f.must(f.r.Transfer(10, acd.Target{Queue: "b"}))
		f.wantOffer(10, 2)
		e := evs[0]
		if e.Type != acd.EventTransferred || e.FromQueue != "a" || e.Queue != "b" || e.HelperID != 1 {
			t.Errorf("first event %+v, want transferred a to b from helper 1", e)
		}
		info, _ := f.r.Item(10)
		if !info.Created.Equal(created) || info.Queue != "b" {
			t.Errorf("item %+v, want created %v in queue b", info, created)
		}
		if h, _ := f.r.Helper(1); len(h.Active) != 0 || h.Busy {
			t.Errorf("helper 1 %+v, want freed", h)
		}

		f.accept(10, 2)
		f.must(f.r.Transfer(10, acd.Target{Queue: "a", Helper: 3, For: 30 * time.Second}))
		f.wantOffer(10, 3)
		f.must(f.r.Reject(10, 3, acd.RejectDeclined))
		f.wantOffer(10, 0) // waits for helper 3 alone, who is held back
		advance(acd.DefaultRejectDelay)
		f.wantOffer(10, 3)
		f.check()
	})
}

func TestTransferErrors(t *testing.T) {
	tests := []struct {
		name string
		to   acd.Target
		want error
	}{
		{"no target", acd.Target{}, acd.ErrInvalid},
		{"unknown queue", acd.Target{Queue: "x"}, acd.ErrUnknownQueue},
		{"full queue", acd.Target{Queue: "full"}, acd.ErrQueueFull},
		{"unknown helper", acd.Target{Helper: 9}, acd.ErrUnknownHelper},
		{"offline helper", acd.Target{Helper: 1}, acd.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t, acd.Config{Queues: []acd.QueueConfig{{Name: "a"}, {Name: "full", MaxLength: 1}}})
				f.must(f.r.SetHelper(acd.HelperConfig{ID: 1, Queues: []string{"a"}}))
				f.enqueue(acd.Item{ID: 10, Channel: acd.Email, Queue: "a"})
				f.enqueue(acd.Item{ID: 11, Channel: acd.Email, Queue: "full"})
				_, err := f.r.Transfer(10, tt.to)
				wantErr(t, err, tt.want)
				if info, _ := f.r.Item(10); info.Queue != "a" || info.State != acd.StateQueued {
					t.Errorf("item after a failed transfer %+v, want queued in a", info)
				}
				f.check()
			})
		})
	}
}

func TestRecall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, queues("q"))
		f.login(1, []string{"q"}, nil)
		f.enqueue(acd.Item{ID: 10, Channel: acd.Email, Queue: "q"})
		f.accept(10, 1)
		evs := f.must(f.r.Recall(10))
		if !hasEvent(evs, acd.EventRecalled, 10, 1) {
			t.Errorf("events %v, want recalled from helper 1", types(evs))
		}
		f.wantOffer(10, 0) // not back to the same helper at once
		f.login(2, []string{"q"}, nil)
		f.wantOffer(10, 2)
		f.must(f.r.Recall(10))
		f.wantOffer(10, 1)
		_, err := f.r.Recall(99)
		wantErr(t, err, acd.ErrUnknownItem)
		f.check()
	})
}

// A postponed item waits in its queue, offered to nobody, until its time;
// then any helper may take it, also the one it came back from. Removing
// it meanwhile ends the postponement.
func TestPostpone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, queues("q"))
		f.login(1, []string{"q"}, nil)
		f.enqueue(acd.Item{ID: 10, Channel: acd.Callback, Queue: "q"})
		f.accept(10, 1)
		evs := f.must(f.r.Postpone(10, time.Now().Add(time.Minute)))
		if !hasEvent(evs, acd.EventRecalled, 10, 1) {
			t.Errorf("events %v, want recalled from helper 1", types(evs))
		}
		f.login(2, []string{"q"}, nil)
		f.check()
		advance(time.Minute - time.Nanosecond)
		f.wantOffer(10, 0)
		if got := f.state(10); got != acd.StateQueued {
			t.Errorf("postponed state: got %s, want %s", got, acd.StateQueued)
		}
		f.check()
		advance(time.Nanosecond)
		if got := f.offeredTo(10); len(got) != 1 {
			t.Errorf("after the postponement: offered to %v, want one helper", got)
		}
		f.check()

		f.enqueue(acd.Item{ID: 11, Channel: acd.Callback, Queue: "q"})
		f.accept(11, f.offeredTo(11)[0])
		f.must(f.r.Postpone(11, time.Now().Add(time.Hour)))
		f.must(f.r.Remove(11, acd.OutcomeAnswered))
		advance(time.Hour)
		if got := f.state(11); got != acd.StateClosed {
			t.Errorf("removed while postponed: got %s, want %s", got, acd.StateClosed)
		}
		f.check()
	})
}

// A queued item can be postponed in its place (a postponement restored
// after a restart): it is offered at its time, not before.
func TestPostponeQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, queues("q"))
		f.enqueue(acd.Item{ID: 10, Channel: acd.Callback, Queue: "q"})
		f.must(f.r.Postpone(10, time.Now().Add(time.Minute)))
		f.login(1, []string{"q"}, nil)
		f.wantOffer(10, 0)
		f.check()
		advance(time.Minute)
		f.wantOffer(10, 1)
		_, err := f.r.Postpone(10, time.Now().Add(time.Minute))
		wantErr(t, err, acd.ErrState) // offered: neither active nor queued
		f.check()
	})
}

func TestAbandonWithdrawsRinging(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, acd.Config{Queues: []acd.QueueConfig{{Name: "q", Strategy: acd.RingAll}}})
		f.login(1, []string{"q"}, nil)
		f.login(2, []string{"q"}, nil)
		f.enqueue(acd.Item{ID: 10, Channel: acd.Voice, Queue: "q"})
		advance(5 * time.Second)
		evs := f.must(f.r.Abandon(10))
		want := []acd.EventType{acd.EventWithdrawn, acd.EventWithdrawn, acd.EventAbandoned, acd.EventClosed}
		if diff := cmp.Diff(want, types(evs)); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		if evs[2].Duration != 5*time.Second || evs[3].Outcome != acd.OutcomeAbandoned {
			t.Errorf("abandoned %+v closed %+v, want 5 s wait and outcome abandoned", evs[2], evs[3])
		}
		_, err := f.r.Accept(10, 1)
		wantErr(t, err, acd.ErrUnknownItem)
		f.enqueue(acd.Item{ID: 11, Channel: acd.Voice, Queue: "q"})
		if got := f.offeredTo(11); len(got) != 2 {
			t.Errorf("next call offered to %v, want both helpers", got)
		}
		f.check()
	})
}

func TestCallMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, queues("q"))
		f.login(1, []string{"q"}, nil)
		f.must(f.r.SetStatus(1, acd.StatusAway, "coffee"))
		f.enqueue(acd.Item{ID: 10, Channel: acd.Voice, Queue: "q"})
		advance(30 * time.Second)
		f.must(f.r.SetStatus(1, acd.StatusAvailable, ""))
		advance(4 * time.Second)
		f.accept(10, 1)
		advance(time.Second)
		f.must(f.r.Connected(10))
		advance(time.Minute)
		f.must(f.r.Hold(10, true))
		advance(20 * time.Second)
		f.must(f.r.Hold(10, false))
		advance(40 * time.Second)
		f.must(f.r.Complete(10, ""))

		got := map[acd.EventType]time.Duration{}
		for _, e := range f.rec.Events() {
			if e.ItemID == 10 {
				got[e.Type] = e.Duration
			}
		}
		c, _ := f.rec.Last(acd.EventCompleted)
		want := map[acd.EventType]time.Duration{
			acd.EventEnqueued: 0, acd.EventOffered: 0, acd.EventAccepted: 34 * time.Second,
			acd.EventConnected: time.Second, acd.EventHeld: 0, acd.EventUnheld: 20 * time.Second,
			acd.EventCompleted: 2*time.Minute + time.Second, acd.EventClosed: 0,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("durations (-want +got):\n%s", diff)
		}
		h, _ := f.r.Helper(1)
		if c.Hold != 20*time.Second || h.Counters.TalkTime != 101*time.Second || h.Counters.Completed != 1 {
			t.Errorf("hold %v, talk %v, completed %d; want 20 s, 101 s, 1", c.Hold, h.Counters.TalkTime, h.Counters.Completed)
		}
	})
}

func TestPositionAndEstimate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, queues("q"))
		f.login(1, []string{"q"}, nil)
		// History: three calls answered a minute apart.
		for id := int64(1); id <= 3; id++ {
			f.enqueue(acd.Item{ID: id, Channel: acd.Voice, Queue: "q"})
			f.accept(id, 1)
			advance(time.Minute)
			f.must(f.r.Complete(id, ""))
		}
		f.must(f.r.SetStatus(1, acd.StatusAway, "meeting"))
		f.enqueue(acd.Item{ID: 10, Channel: acd.Email, Queue: "q"})
		f.enqueue(acd.Item{ID: 11, Channel: acd.Voice, Queue: "q"})
		f.enqueue(acd.Item{ID: 12, Channel: acd.Voice, Queue: "q", Priority: 1})
		f.enqueue(acd.Item{ID: 13, Channel: acd.Voice, Queue: "q"})

		got, err := f.r.Waiting("q")
		if err != nil {
			t.Fatal(err)
		}
		want := []acd.Estimate{
			{ItemID: 12, Position: 1, Wait: time.Minute, Known: true},
			{ItemID: 11, Position: 2, Wait: 2 * time.Minute, Known: true},
			{ItemID: 13, Position: 3, Wait: 3 * time.Minute, Known: true},
			{ItemID: 10, Position: 1},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("waiting (-want +got):\n%s", diff)
		}
		p, err := f.r.Position(13)
		if err != nil || p != want[2] {
			t.Errorf("position of 13: %+v, %v; want %+v", p, err, want[2])
		}
	})
}

func TestSubscriptionSeesTheOffer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, queues("q"))
		sub := f.r.Subscribe(10)
		defer sub.Close()
		f.enqueue(acd.Item{ID: 10, Channel: acd.Voice, Queue: "q"})

		got := make(chan acd.Event, 1)
		go func() {
			e, err := sub.Wait(context.Background(), acd.Is(acd.EventAccepted, acd.EventClosed))
			if err != nil {
				t.Errorf("wait: %v", err)
			}
			got <- e
		}()
		f.login(1, []string{"q"}, nil)
		f.accept(10, 1)
		e := <-got
		if e.Type != acd.EventAccepted || e.HelperID != 1 {
			t.Errorf("event %+v, want accepted by helper 1", e)
		}
		f.must(f.r.Complete(10, ""))
		for {
			e, err := sub.Next(context.Background())
			if errors.Is(err, acd.ErrEnded) {
				break
			}
			if err != nil {
				t.Fatalf("next: %v", err)
			}
			if e.ItemID != 10 {
				t.Errorf("event of item %d on item 10's subscription", e.ItemID)
			}
		}
	})
}

func TestSubscriptionEndsOnClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, queues("q"))
		sub := f.r.Subscribe(10)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, err := sub.Next(ctx)
			done <- err
		}()
		synctest.Wait()
		f.r.Close()
		wantErr(t, <-done, acd.ErrClosed)
		_, err := f.r.Enqueue(acd.Item{ID: 1, Channel: acd.Voice, Queue: "q"})
		wantErr(t, err, acd.ErrClosed)
		if err := f.r.Close(); err != nil {
			t.Errorf("second close: %v", err)
		}
	})
}

func TestRestore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, queues("q"))
		f.must(f.r.SetHelper(acd.HelperConfig{ID: 1, Queues: []string{"q"}}))
		f.must(f.r.SetHelper(acd.HelperConfig{ID: 2, Queues: []string{"q"}}))
		old := time.Now().Add(-time.Hour)
		evs := f.must(f.r.Restore([]acd.Stored{
			{Item: acd.Item{ID: 1, Channel: acd.Email, Queue: "q", Created: old.Add(2 * time.Minute)}, State: acd.StateQueued},
			{Item: acd.Item{ID: 2, Channel: acd.Email, Queue: "q", Created: old}, State: acd.StateOffered, HelperID: 2},
			{Item: acd.Item{ID: 3, Channel: acd.Chat, Queue: "q", Created: old}, State: acd.StateActive, HelperID: 1},
			{Item: acd.Item{ID: 4, Channel: acd.Voice, Queue: "q", Created: old}, State: acd.StateWrapUp, Outcome: acd.OutcomeAnswered},
			{Item: acd.Item{ID: 5, Channel: acd.Voice, Queue: "q", Created: old}, State: acd.StateClosed},
		}))
		want := []acd.EventType{acd.EventWithdrawn, acd.EventClosed}
		if diff := cmp.Diff(want, types(evs)); diff != "" {
			t.Errorf("restore events (-want +got):\n%s", diff)
		}
		for _, h := range f.r.Helpers() {
			if h.Status != acd.StatusOffline {
				t.Errorf("helper %d %s, want offline", h.ID, h.Status)
			}
		}
		if got := f.state(3); got != acd.StateActive {
			t.Errorf("item 3 %s, want active with helper 1", got)
		}
		f.must(f.r.SetStatus(2, acd.StatusAvailable, ""))
		f.wantOffer(2, 2) // the older item first
		info, _ := f.r.Item(1)
		if !info.Created.Equal(old.Add(2 * time.Minute)) {
			t.Errorf("created %v, want %v", info.Created, old.Add(2*time.Minute))
		}
		f.check()
	})
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name string
		call func(r *acd.Router) error
		want error
	}{
		{"item id 0", func(r *acd.Router) error { _, err := r.Enqueue(acd.Item{Channel: acd.Voice, Queue: "q"}); return err }, acd.ErrInvalid},
		{"duplicate", func(r *acd.Router) error {
			_, err := r.Enqueue(acd.Item{ID: 10, Channel: acd.Voice, Queue: "q"})
			return err
		}, acd.ErrDuplicate},
		{"bad channel", func(r *acd.Router) error {
			_, err := r.Enqueue(acd.Item{ID: 1, Channel: "fax", Queue: "q"})
			return err
		}, acd.ErrInvalid},
		{"unknown queue", func(r *acd.Router) error {
			_, err := r.Enqueue(acd.Item{ID: 1, Channel: acd.Voice, Queue: "x"})
			return err
		}, acd.ErrUnknownQueue},
		{"negative skill", func(r *acd.Router) error {
			_, err := r.Enqueue(acd.Item{ID: 1, Channel: acd.Voice, Queue: "q", Skills: []acd.Skill{{Name: "ru", Level: -1}}})
			return err
		}, acd.ErrInvalid},
		{"accept without offer", func(r *acd.Router) error { _, err := r.Accept(11, 1); return err }, acd.ErrNoOffer},
		{"accept unknown helper", func(r *acd.Router) error { _, err := r.Accept(10, 7); return err }, acd.ErrUnknownHelper},
		{"reject bad reason", func(r *acd.Router) error { _, err := r.Reject(10, 1, "bored"); return err }, acd.ErrInvalid},
		{"complete queued", func(r *acd.Router) error { _, err := r.Complete(11, ""); return err }, acd.ErrState},
		{"connect queued", func(r *acd.Router) error { _, err := r.Connected(11); return err }, acd.ErrState},
		{"hold a letter", func(r *acd.Router) error { _, err := r.Hold(11, true); return err }, acd.ErrState},
		{"reply unknown", func(r *acd.Router) error { _, err := r.Replied(99); return err }, acd.ErrUnknownItem},
		{"remove unknown", func(r *acd.Router) error { _, err := r.Remove(99, acd.OutcomeSpam); return err }, acd.ErrUnknownItem},
		{"bad status", func(r *acd.Router) error { _, err := r.SetStatus(1, "busy", ""); return err }, acd.ErrInvalid},
		{"status of unknown", func(r *acd.Router) error { _, err := r.SetStatus(5, acd.StatusAway, ""); return err }, acd.ErrUnknownHelper},
		{"helper id 0", func(r *acd.Router) error { _, err := r.SetHelper(acd.HelperConfig{}); return err }, acd.ErrInvalid},
		{"helper in unknown queue", func(r *acd.Router) error {
			_, err := r.SetHelper(acd.HelperConfig{ID: 2, Queues: []string{"x"}})
			return err
		}, acd.ErrUnknownQueue},
		{"negative capacity", func(r *acd.Router) error {
			_, err := r.SetHelper(acd.HelperConfig{ID: 2, Capacity: map[acd.Channel]int{acd.Chat: -1}})
			return err
		}, acd.ErrInvalid},
		{"bad strategy", func(r *acd.Router) error {
			_, err := r.SetQueue(acd.QueueConfig{Name: "z", Strategy: "luck"})
			return err
		}, acd.ErrInvalid},
		{"steps out of order", func(r *acd.Router) error {
			_, err := r.SetQueue(acd.QueueConfig{Name: "z", Escalation: []acd.EscalationStep{{After: 2}, {After: 1}}})
			return err
		}, acd.ErrInvalid},
		{"bad period", func(r *acd.Router) error {
			_, err := r.SetQueue(acd.QueueConfig{Name: "z", Hours: &acd.Hours{Week: map[time.Weekday][]acd.Period{
				time.Monday: {{From: 10 * time.Hour, To: 9 * time.Hour}}}}})
			return err
		}, acd.ErrInvalid},
		{"restore without created", func(r *acd.Router) error {
			_, err := r.Restore([]acd.Stored{{Item: acd.Item{ID: 50, Channel: acd.Email, Queue: "q"}, State: acd.StateQueued}})
			return err
		}, acd.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t, queues("q"))
				f.login(1, []string{"q"}, nil)
				f.enqueue(acd.Item{ID: 10, Channel: acd.Voice, Queue: "q"})
				f.enqueue(acd.Item{ID: 11, Channel: acd.Email, Queue: "q"})
				wantErr(t, tt.call(f.r), tt.want)
				f.wantOffer(10, 1)
				f.check()
			})
		})
	}
	if _, err := acd.New(acd.Config{Capacity: map[acd.Channel]int{"fax": 1}}); !errors.Is(err, acd.ErrInvalid) {
		t.Errorf("new with a bad capacity: %v, want invalid", err)
	}
}

func TestStrategyChangeStopsRinging(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, acd.Config{Queues: []acd.QueueConfig{{Name: "q", Strategy: acd.RingAll}}})
		f.login(1, []string{"q"}, nil)
		f.login(2, []string{"q"}, nil)
		f.enqueue(acd.Item{ID: 10, Channel: acd.Voice, Queue: "q"})
		if got := f.offeredTo(10); len(got) != 2 {
			t.Fatalf("offered to %v, want both", got)
		}
		f.must(f.r.SetQueue(acd.QueueConfig{Name: "q", Strategy: acd.LongestIdle}))
		f.wantOffer(10, 1)
		f.check()
	})
}

func TestSnapshots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, acd.Config{Queues: []acd.QueueConfig{{Name: "a", SLA: time.Hour}, {Name: "b"}}})
		f.login(1, []string{"a", "b"}, nil)
		f.login(2, []string{"b"}, nil)
		f.must(f.r.SetStatus(2, acd.StatusAway, "lunch"))
		start := time.Now()
		f.enqueue(acd.Item{ID: 10, Channel: acd.Voice, Queue: "a"})
		f.enqueue(acd.Item{ID: 11, Channel: acd.Email, Queue: "a"})
		advance(time.Minute)
		f.enqueue(acd.Item{ID: 12, Channel: acd.Email, Queue: "b"})

		info, _ := f.r.Item(11)
		if !info.SLADue.Equal(start.Add(time.Hour)) {
			t.Errorf("SLA due %v, want created plus the queue's hour", info.SLADue)
		}
		want := []acd.QueueInfo{
			{Name: "a", Open: true, Waiting: 2, Oldest: start, LoggedIn: 1},
			{Name: "b", Open: true, Waiting: 1, Oldest: start.Add(time.Minute), LoggedIn: 2},
		}
		if diff := cmp.Diff(want, f.r.Queues()); diff != "" {
			t.Errorf("queues (-want +got):\n%s", diff)
		}
		h, _ := f.r.Helper(1)
		// The call rang at 0 s, 25 s and 50 s (20 s each, 5 s apart).
		if h.Offer != 10 || h.Status != acd.StatusAvailable || h.Counters.Offered != 3 || h.Missed != 2 {
			t.Errorf("helper 1 %+v, want ringing for the call the third time", h)
		}
		h, _ = f.r.Helper(2)
		if h.Status != acd.StatusAway || h.Reason != "lunch" {
			t.Errorf("helper 2 %+v, want away for lunch", h)
		}
		if err := f.r.ResetCounters(0); err != nil {
			t.Fatal(err)
		}
		if h, _ := f.r.Helper(1); h.Counters != (acd.Counters{}) {
			t.Errorf("counters after reset %+v, want zero", h.Counters)
		}
		wantErr(t, f.r.ResetCounters(9), acd.ErrUnknownHelper)
	})
}
