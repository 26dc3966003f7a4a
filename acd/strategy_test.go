package acd_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/morozhq/moroz/acd"
)

// serve enqueues n calls one after another; each is accepted and completed
// by the helper it was offered to. It returns the helpers in order.
func serve(f *fixture, queue string, first int64, n int) []int64 {
	f.t.Helper()
	var got []int64
	for i := range n {
		id := first + int64(i)
		f.enqueue(acd.Item{ID: id, Channel: acd.Voice, Queue: queue})
		to := f.offeredTo(id)
		if len(to) != 1 {
			f.t.Fatalf("item %d offered to %v, want one helper", id, to)
		}
		f.accept(id, to[0])
		time.Sleep(time.Second)
		f.must(f.r.Complete(id, acd.OutcomeAnswered))
		got = append(got, to[0])
	}
	return got
}

func TestStrategies(t *testing.T) {
	tests := []struct {
		name     string
		strategy acd.Strategy
		run      func(f *fixture) []int64
		want     []int64
	}{{
		name:     "longest idle takes who logged in first",
		strategy: acd.LongestIdle,
		run: func(f *fixture) []int64 {
			for _, id := range []int64{3, 1, 2} {
				f.login(id, []string{"q"}, nil)
				time.Sleep(time.Second)
			}
			return serve(f, "q", 100, 4)
		},
		want: []int64{3, 1, 2, 3},
	}, {
		name:     "longest idle prefers the least loaded",
		strategy: acd.LongestIdle,
		run: func(f *fixture) []int64 {
			f.login(1, []string{"q"}, nil)
			time.Sleep(time.Second)
			f.login(2, []string{"q"}, nil)
			f.enqueue(acd.Item{ID: 10, Channel: acd.Email, Queue: "q"})
			f.accept(10, 1)
			f.enqueue(acd.Item{ID: 11, Channel: acd.Email, Queue: "q"})
			return f.offeredTo(11)
		},
		want: []int64{2},
	}, {
		name:     "round robin remembers the last helper",
		strategy: acd.RoundRobin,
		run: func(f *fixture) []int64 {
			for _, id := range []int64{2, 3, 1} {
				f.login(id, []string{"q"}, nil)
			}
			return serve(f, "q", 100, 5)
		},
		want: []int64{1, 2, 3, 1, 2},
	}, {
		name:     "least busy takes who completed fewest",
		strategy: acd.LeastBusy,
		run: func(f *fixture) []int64 {
			f.login(1, []string{"q"}, nil)
			serve(f, "q", 100, 2)
			f.login(2, []string{"q"}, nil)
			serve(f, "q", 200, 1)
			f.login(3, []string{"q"}, nil)
			return serve(f, "q", 300, 3)
		},
		// 1 has 2 done, 2 has 1, 3 has 0: 3, then 2 and 3 tie at one each
		// and 2 has less talk time... both 1 s, so the idler: 2.
		want: []int64{3, 2, 3},
	}, {
		name:     "by skill takes the highest level",
		strategy: acd.BySkill,
		run: func(f *fixture) []int64 {
			f.login(1, []string{"q"}, map[string]int{"ru": 3})
			f.login(2, []string{"q"}, map[string]int{"ru": 7})
			f.login(3, []string{"q"}, map[string]int{"ru": 5})
			f.enqueue(acd.Item{ID: 10, Channel: acd.Chat, Queue: "q", Skills: []acd.Skill{{Name: "ru", Level: 2}}})
			return f.offeredTo(10)
		},
		want: []int64{2},
	}, {
		name:     "ring all offers everyone eligible",
		strategy: acd.RingAll,
		run: func(f *fixture) []int64 {
			f.login(1, []string{"q"}, map[string]int{"ru": 3})
			f.login(2, []string{"q"}, nil)
			f.login(3, []string{"q"}, map[string]int{"ru": 5})
			f.enqueue(acd.Item{ID: 10, Channel: acd.Voice, Queue: "q", Skills: []acd.Skill{{Name: "ru", Level: 1}}})
			return f.offeredTo(10)
		},
		want: []int64{1, 3},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t, acd.Config{Queues: []acd.QueueConfig{{Name: "q", Strategy: tt.strategy}}})
				got := tt.run(f)
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("helpers chosen (-want +got):\n%s", diff)
				}
				f.check()
			})
		})
	}
}

func TestRingAllFirstAcceptWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, acd.Config{Queues: []acd.QueueConfig{{Name: "q", Strategy: acd.RingAll}}})
		for id := int64(1); id <= 3; id++ {
			f.login(id, []string{"q"}, nil)
		}
		f.enqueue(acd.Item{ID: 10, Channel: acd.Voice, Queue: "q"})
		evs := f.must(f.r.Accept(10, 2))
		var withdrawn []int64
		for _, e := range evs {
			if e.Type == acd.EventWithdrawn {
				withdrawn = append(withdrawn, e.HelperID)
			}
		}
		slices.Sort(withdrawn)
		if diff := cmp.Diff([]int64{1, 3}, withdrawn); diff != "" {
			t.Errorf("withdrawn (-want +got):\n%s", diff)
		}
		_, err := f.r.Accept(10, 1)
		wantErr(t, err, acd.ErrNoOffer)
		if got := f.state(10); got != acd.StateActive {
			t.Errorf("state %s, want active", got)
		}
		f.check()
	})
}

func TestRandomStrategyUsesInjectedSource(t *testing.T) {
	pick := func(seed uint64) []int64 {
		var got []int64
		synctest.Test(t, func(t *testing.T) {
			f := newFixture(t, acd.Config{
				Rand:   rand.New(rand.NewPCG(seed, seed)),
				Queues: []acd.QueueConfig{{Name: "q", Strategy: acd.Random}},
			})
			for id := int64(1); id <= 4; id++ {
				f.login(id, []string{"q"}, nil)
			}
			got = serve(f, "q", 100, 40)
		})
		return got
	}
	a, b := pick(7), pick(7)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same seed, different choices (-first +second):\n%s", diff)
	}
	seen := map[int64]bool{}
	for _, h := range a {
		seen[h] = true
	}
	if len(seen) != 4 {
		t.Errorf("40 random choices reached helpers %v, want all 4", seen)
	}
	if slices.Equal(a, pick(8)) {
		t.Errorf("seeds 7 and 8 chose the same 40 helpers")
	}
}
