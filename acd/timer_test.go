package acd_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/morozhq/moroz/acd"
)

// advance moves the bubble's fake clock by d and lets the router's timers
// run. time.Sleep inside synctest waits for no real time.
func advance(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

func TestOfferTimeout(t *testing.T) {
	tests := []struct {
		name  string
		ch    acd.Channel
		queue acd.QueueConfig
		want  time.Duration
	}{
		{"voice rings 20 s", acd.Voice, acd.QueueConfig{Name: "q"}, 20 * time.Second},
		{"a letter waits 60 s", acd.Email, acd.QueueConfig{Name: "q"}, time.Minute},
		{"the queue overrides", acd.Chat, acd.QueueConfig{Name: "q",
			OfferTimeout: map[acd.Channel]time.Duration{acd.Chat: 45 * time.Second}}, 45 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t, acd.Config{Queues: []acd.QueueConfig{tt.queue}})
				f.login(1, []string{"q"}, nil)
				evs := f.enqueue(acd.Item{ID: 10, Channel: tt.ch, Queue: "q"})
				start := time.Now()
				if len(evs) != 2 || evs[1].Type != acd.EventOffered || !evs[1].Deadline.Equal(start.Add(tt.want)) {
					t.Fatalf("events %+v, want enqueued and offered with deadline +%v", evs, tt.want)
				}
				advance(tt.want - time.Nanosecond)
				f.wantOffer(10, 1)
				advance(time.Nanosecond)
				f.wantOffer(10, 0)
				e, ok := f.rec.Last(acd.EventTimedOut)
				if !ok || !e.At.Equal(start.Add(tt.want)) || e.HelperID != 1 {
					t.Errorf("timed out event %+v, want helper 1 at +%v", e, tt.want)
				}
				f.check()
			})
		})
	}
}

func TestMissedOffersPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, queues("q"))
		f.login(1, []string{"q"}, nil)
		f.enqueue(acd.Item{ID: 10, Channel: acd.Voice, Queue: "q"})
		// Each round: 20 s ringing, then the 5 s no-answer delay.
		advance(20 * time.Second)
		advance(5 * time.Second)
		f.wantOffer(10, 1)
		advance(25 * time.Second)
		f.wantOffer(10, 1)
		advance(20 * time.Second)
		info, _ := f.r.Helper(1)
		if info.Status != acd.StatusAway || info.Reason != acd.ReasonMissedOffers || info.Counters.Missed != 3 {
			t.Fatalf("helper %+v, want away for missed offers after 3", info)
		}
		if e, ok := f.rec.Last(acd.EventPaused); !ok || e.Reason != acd.ReasonMissedOffers {
			t.Errorf("paused event %+v, want reason %q", e, acd.ReasonMissedOffers)
		}
		advance(time.Hour)
		f.wantOffer(10, 0)
		f.must(f.r.SetStatus(1, acd.StatusAvailable, ""))
		f.wantOffer(10, 1)
		f.check()
	})
}

func TestAcceptResetsMissedCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, queues("q"))
		f.login(1, []string{"q"}, nil)
		f.enqueue(acd.Item{ID: 10, Channel: acd.Voice, Queue: "q"})
		advance(25 * time.Second)
		advance(25 * time.Second)
		f.accept(10, 1)
		info, _ := f.r.Helper(1)
		if info.Missed != 0 || info.Counters.Missed != 2 {
			t.Errorf("missed in a row %d, total %d; want 0 and 2", info.Missed, info.Counters.Missed)
		}
	})
}

func TestRejectDelays(t *testing.T) {
	tests := []struct {
		name   string
		cfg    acd.Config
		reason acd.RejectReason
		want   time.Duration
	}{
		{"declined", acd.Config{}, acd.RejectDeclined, acd.DefaultRejectDelay},
		{"busy", acd.Config{}, acd.RejectBusy, acd.DefaultBusyDelay},
		{"configured", acd.Config{BusyDelay: 3 * time.Second}, acd.RejectBusy, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tt.cfg.Queues = []acd.QueueConfig{{Name: "q"}}
				f := newFixture(t, tt.cfg)
				f.login(1, []string{"q"}, nil)
				f.enqueue(acd.Item{ID: 10, Channel: acd.Voice, Queue: "q"})
				f.must(f.r.Reject(10, 1, tt.reason))
				f.wantOffer(10, 0)
				advance(tt.want - time.Nanosecond)
				f.wantOffer(10, 0)
				advance(time.Nanosecond)
				f.wantOffer(10, 1)
				f.check()
			})
		})
	}
}

func TestWrapUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, acd.Config{Queues: []acd.QueueConfig{{
			Name:   "q",
			WrapUp: map[acd.Channel]time.Duration{acd.Voice: 30 * time.Second},
		}}})
		f.login(1, []string{"q"}, nil)
		f.enqueue(acd.Item{ID: 10, Channel: acd.Voice, Queue: "q"})
		f.accept(10, 1)
		f.enqueue(acd.Item{ID: 11, Channel: acd.Email, Queue: "q"})
		advance(time.Minute)
		f.must(f.r.Complete(10, ""))
		if got := f.state(10); got != acd.StateWrapUp {
			t.Fatalf("state after complete %s, want wrapup", got)
		}
		advance(30*time.Second - time.Nanosecond)
		f.wantOffer(11, 0)
		advance(time.Nanosecond)
		f.wantOffer(11, 1)
		e, _ := f.rec.Last(acd.EventWrapUpEnded)
		c, _ := f.rec.Last(acd.EventCompleted)
		if e.ItemID != 10 || e.Duration != 30*time.Second || c.Duration != time.Minute || c.Outcome != acd.OutcomeAnswered {
			t.Errorf("completed %+v and wrap-up %+v, want 1 min handled and 30 s wrap-up", c, e)
		}
		want := []acd.EventType{acd.EventEnqueued, acd.EventOffered, acd.EventAccepted,
			acd.EventCompleted, acd.EventWrapUpEnded, acd.EventClosed}
		if diff := cmp.Diff(want, f.rec.Types(10)); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}
		f.check()
	})
}

func TestEndWrapUpEarly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, acd.Config{Queues: []acd.QueueConfig{{
			Name: "q", WrapUp: map[acd.Channel]time.Duration{acd.Email: time.Hour},
		}}})
		f.login(1, []string{"q"}, nil)
		f.enqueue(acd.Item{ID: 10, Channel: acd.Email, Queue: "q"})
		f.accept(10, 1)
		f.must(f.r.Complete(10, acd.OutcomeReplied))
		f.enqueue(acd.Item{ID: 11, Channel: acd.Email, Queue: "q"})
		f.wantOffer(11, 0)
		advance(time.Minute)
		f.must(f.r.EndWrapUp(1))
		f.wantOffer(11, 1)
		if got := f.state(10); got != acd.StateClosed {
			t.Errorf("state %s, want closed", got)
		}
		f.check()
	})
}

func TestNoReplyTakeBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, acd.Config{Queues: []acd.QueueConfig{{
			Name: "q", NoReply: map[acd.Channel]time.Duration{acd.Chat: 5 * time.Minute},
		}}})
		f.login(1, []string{"q"}, nil)
		advance(time.Second)
		f.login(2, []string{"q"}, nil)
		f.enqueue(acd.Item{ID: 10, Channel: acd.Chat, Queue: "q"})
		f.accept(10, 1)
		advance(4 * time.Minute)
		f.must(f.r.Replied(10))
		advance(5*time.Minute - time.Nanosecond)
		if got := f.state(10); got != acd.StateActive {
			t.Fatalf("state %s before the no-reply time, want active", got)
		}
		advance(time.Nanosecond)
		f.wantOffer(10, 2)
		if e, ok := f.rec.Last(acd.EventTakenBack); !ok || e.HelperID != 1 {
			t.Errorf("taken back event %+v, want from helper 1", e)
		}
		f.check()
	})
}

func TestEscalation(t *testing.T) {
	tests := []struct {
		name  string
		steps []acd.EscalationStep
		at    time.Duration // when helper 1 (ru 3, queue a) or 2 (queue b) gets it
		want  int64
	}{
		{"lower the level", []acd.EscalationStep{{After: time.Minute, MaxLevel: 3}}, time.Minute, 1},
		{"drop the skills", []acd.EscalationStep{{After: 2 * time.Minute, DropSkills: true}}, 2 * time.Minute, 1},
		{"widen to another queue", []acd.EscalationStep{
			{After: time.Minute, MaxLevel: 4},
			{After: 3 * time.Minute, Queues: []string{"b"}, DropSkills: true},
		}, 3 * time.Minute, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t, acd.Config{Queues: []acd.QueueConfig{
					{Name: "a", Escalation: tt.steps}, {Name: "b"},
				}})
				if tt.want == 0 {
					f.login(2, []string{"b"}, nil)
					tt.want = 2
				} else {
					f.login(1, []string{"a"}, map[string]int{"ru": 3})
				}
				f.enqueue(acd.Item{ID: 10, Channel: acd.Email, Queue: "a", Skills: []acd.Skill{{Name: "ru", Level: 5}}})
				advance(tt.at - time.Nanosecond)
				f.wantOffer(10, 0)
				advance(time.Nanosecond)
				f.wantOffer(10, tt.want)
				if _, ok := f.rec.Last(acd.EventEscalated); !ok {
					t.Errorf("no escalated event")
				}
				f.check()
			})
		})
	}
}

func TestEscalationBoostsPriority(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, acd.Config{Queues: []acd.QueueConfig{
			{Name: "a", Escalation: []acd.EscalationStep{{After: time.Minute, PriorityBoost: 10}}},
			{Name: "b"},
		}})
		f.must(f.r.SetHelper(acd.HelperConfig{ID: 1, Queues: []string{"a", "b"}}))
		f.enqueue(acd.Item{ID: 10, Channel: acd.Email, Queue: "a"})
		f.enqueue(acd.Item{ID: 11, Channel: acd.Email, Queue: "b", Priority: 5, Created: epoch})
		advance(time.Minute)
		f.must(f.r.SetStatus(1, acd.StatusAvailable, ""))
		f.wantOffer(10, 1)
	})
}

func TestMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, acd.Config{Queues: []acd.QueueConfig{{Name: "q", MaxWait: 2 * time.Minute}}})
		f.enqueue(acd.Item{ID: 10, Channel: acd.Voice, Queue: "q"})
		advance(2 * time.Minute)
		e, ok := f.rec.Last(acd.EventMaxWait)
		if !ok || e.ItemID != 10 || e.Duration != 2*time.Minute {
			t.Fatalf("max wait event %+v, want item 10 after 2 min", e)
		}
		if got := f.state(10); got != acd.StateQueued {
			t.Errorf("state %s, want still queued: the outcome is the channel's", got)
		}
		f.must(f.r.Remove(10, acd.OutcomeVoicemail))
		if e, _ := f.rec.Last(acd.EventClosed); e.Outcome != acd.OutcomeVoicemail {
			t.Errorf("closed %+v, want outcome voicemail", e)
		}
	})
}

func TestSticky(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fixture) // helper 1 is preferred; 2 has been idle longest
		now   int64            // offered at once to
		later int64            // offered to after the preference expires
	}{
		{"preferred helper free", func(f *fixture) {}, 1, 1},
		{"preferred helper offline", func(f *fixture) {
			f.must(f.r.SetStatus(1, acd.StatusOffline, ""))
		}, 2, 2},
		{"preferred helper on a call", func(f *fixture) {
			f.enqueue(acd.Item{ID: 5, Channel: acd.Voice, Queue: "q"})
			f.accept(5, 2)
			f.enqueue(acd.Item{ID: 6, Channel: acd.Voice, Queue: "q"})
			f.accept(6, 1)
			f.must(f.r.Complete(5, ""))
		}, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t, queues("q"))
				f.login(2, []string{"q"}, nil)
				advance(time.Second)
				f.login(1, []string{"q"}, nil)
				tt.setup(f)
				f.enqueue(acd.Item{ID: 10, Channel: acd.Voice, Queue: "q",
					PreferredHelper: 1, PreferredUntil: time.Now().Add(time.Minute)})
				f.wantOffer(10, tt.now)
				advance(time.Minute)
				f.wantOffer(10, tt.later)
				f.check()
			})
		})
	}
}

func TestBusinessHours(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The bubble starts at midnight UTC on Saturday 1 January 2000.
		loc := time.FixedZone("UTC+3", 3*3600)
		hours := &acd.Hours{Location: loc, Week: map[time.Weekday][]acd.Period{
			time.Saturday: {{From: 9 * time.Hour, To: 12 * time.Hour}, {From: 13 * time.Hour, To: 17 * time.Hour}},
		}}
		f := newFixture(t, acd.Config{Queues: []acd.QueueConfig{{Name: "q", Hours: hours}}})
		f.login(1, []string{"q"}, nil)
		f.enqueue(acd.Item{ID: 10, Channel: acd.Email, Queue: "q"})
		if f.r.Open("q") {
			t.Fatalf("open at 03:00 local, want closed")
		}
		advance(6*time.Hour - time.Nanosecond) // 08:59:59.999 local
		f.wantOffer(10, 0)
		advance(time.Nanosecond)
		f.wantOffer(10, 1)
		advance(3 * time.Hour)
		var got []acd.EventType
		for _, e := range f.rec.Events() {
			if e.Queue == "q" && e.ItemID == 0 {
				got = append(got, e.Type)
			}
		}
		want := []acd.EventType{acd.EventQueueOpened, acd.EventQueueClosed}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("queue events (-want +got):\n%s", diff)
		}
		f.check()
	})
}
