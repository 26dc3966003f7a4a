package acd_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/morozhq/moroz/acd"
)

func TestEdgeCases(t *testing.T) {
	closedAllDay := &acd.Hours{}
	tests := []struct {
		name   string
		queues []acd.QueueConfig
		run    func(f *fixture)
	}{{
		name:   "transfer of an offered item withdraws the offer",
		queues: []acd.QueueConfig{{Name: "a"}, {Name: "b"}},
		run: func(f *fixture) {
			f.login(1, []string{"a"}, nil)
			f.enqueue(acd.Item{ID: 10, Channel: acd.Email, Queue: "a"})
			evs := f.must(f.r.Transfer(10, acd.Target{Queue: "b"}))
			if !hasEvent(evs, acd.EventWithdrawn, 10, 1) {
				f.t.Errorf("events %v, want the offer withdrawn", types(evs))
			}
			f.wantOffer(10, 0)
		},
	}, {
		name:   "a closed queue holds its items unless it routes when closed",
		queues: []acd.QueueConfig{{Name: "a", Hours: closedAllDay}, {Name: "b", Hours: closedAllDay, RouteClosed: true}},
		run: func(f *fixture) {
			f.login(1, []string{"a", "b"}, nil)
			f.enqueue(acd.Item{ID: 10, Channel: acd.Email, Queue: "a", Priority: 5})
			f.enqueue(acd.Item{ID: 11, Channel: acd.Email, Queue: "b"})
			f.wantOffer(10, 0)
			f.wantOffer(11, 1)
		},
	}, {
		name:   "escalation while offered applies when the item returns",
		queues: []acd.QueueConfig{{Name: "a", Escalation: []acd.EscalationStep{{After: 10 * time.Second, DropSkills: true}}}},
		run: func(f *fixture) {
			f.login(1, []string{"a"}, map[string]int{"ru": 5})
			f.login(2, []string{"a"}, nil)
			f.enqueue(acd.Item{ID: 10, Channel: acd.Email, Queue: "a", Skills: []acd.Skill{{Name: "ru", Level: 5}}})
			f.wantOffer(10, 1)
			advance(10 * time.Second)
			f.must(f.r.Reject(10, 1, acd.RejectDeclined))
			f.wantOffer(10, 2)
		},
	}, {
		name:   "complete, remove and recall refuse the wrong states",
		queues: []acd.QueueConfig{{Name: "a"}},
		run: func(f *fixture) {
			f.enqueue(acd.Item{ID: 10, Channel: acd.Email, Queue: "a"})
			_, err := f.r.Recall(10)
			wantErr(f.t, err, acd.ErrState)
			f.login(1, []string{"a"}, nil)
			f.accept(10, 1)
			_, err = f.r.Remove(10, acd.OutcomeSpam)
			wantErr(f.t, err, acd.ErrState)
			_, err = f.r.Abandon(10)
			wantErr(f.t, err, acd.ErrState)
			f.must(f.r.Complete(10, ""))
			_, err = f.r.Complete(10, "")
			wantErr(f.t, err, acd.ErrUnknownItem)
		},
	}, {
		name:   "going away withdraws the offer without a miss",
		queues: []acd.QueueConfig{{Name: "a"}},
		run: func(f *fixture) {
			f.login(1, []string{"a"}, nil)
			f.login(2, []string{"a"}, nil)
			f.enqueue(acd.Item{ID: 10, Channel: acd.Voice, Queue: "a"})
			f.must(f.r.SetStatus(1, acd.StatusAway, "break"))
			f.wantOffer(10, 2)
			if h, _ := f.r.Helper(1); h.Counters.Missed != 0 {
				f.t.Errorf("missed %d, want 0", h.Counters.Missed)
			}
		},
	}, {
		name:   "a helper moved out of a queue gets none of its items",
		queues: []acd.QueueConfig{{Name: "a"}, {Name: "b"}},
		run: func(f *fixture) {
			f.login(1, []string{"a"}, nil)
			f.must(f.r.SetHelper(acd.HelperConfig{ID: 1, Queues: []string{"b"}}))
			f.enqueue(acd.Item{ID: 10, Channel: acd.Email, Queue: "a"})
			f.wantOffer(10, 0)
			f.enqueue(acd.Item{ID: 11, Channel: acd.Email, Queue: "b"})
			f.wantOffer(11, 1)
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t, acd.Config{Queues: tt.queues})
				tt.run(f)
				f.check()
			})
		})
	}
}

func TestLastHelperLeaving(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, acd.Config{Queues: []acd.QueueConfig{{Name: "a", NoHelpers: acd.NoHelpersReject}}})
		f.login(1, []string{"a"}, nil)
		f.login(2, []string{"a"}, nil)
		f.enqueue(acd.Item{ID: 10, Channel: acd.Voice, Queue: "a"})
		f.enqueue(acd.Item{ID: 11, Channel: acd.Voice, Queue: "a"})
		f.enqueue(acd.Item{ID: 12, Channel: acd.Voice, Queue: "a"})
		if evs := f.must(f.r.SetStatus(1, acd.StatusOffline, "")); hasEvent(evs, acd.EventNoHelpers, 12, 0) {
			t.Errorf("no-helpers event while helper 2 is logged in")
		}
		evs := f.must(f.r.SetStatus(2, acd.StatusOffline, ""))
		var got []int64
		for _, e := range evs {
			if e.Type == acd.EventNoHelpers {
				got = append(got, e.ItemID)
			}
		}
		if diff := cmp.Diff([]int64{10, 11, 12}, got); diff != "" {
			t.Errorf("no-helpers events (-want +got):\n%s", diff)
		}
		f.check()
	})
}

func TestProfileChangeWithdrawsOffer(t *testing.T) {
	tests := []struct {
		name string
		cfg  acd.HelperConfig
		keep bool
	}{
		{"same profile", acd.HelperConfig{ID: 1, Queues: []string{"a"}}, true},
		{"no room", acd.HelperConfig{ID: 1, Queues: []string{"a"}, Capacity: map[acd.Channel]int{acd.Chat: 0}}, false},
		{"left the queue", acd.HelperConfig{ID: 1, Queues: []string{"b"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t, queues("a", "b"))
				f.login(1, []string{"a"}, nil)
				f.enqueue(acd.Item{ID: 10, Channel: acd.Chat, Queue: "a"})
				f.must(f.r.SetHelper(tt.cfg))
				want := int64(0)
				if tt.keep {
					want = 1
				}
				f.wantOffer(10, want)
				f.check()
			})
		})
	}
}
