package acd_test

import (
	"sync"
	"testing"
	"testing/synctest"

	"github.com/morozhq/moroz/acd"
)

// orderSink checks that events arrive in Seq order, and accepts every offer
// from inside Emit, as a console's handler might.
type orderSink struct {
	r    *acd.Router
	mu   sync.Mutex
	last uint64      // guarded by mu
	bad  []acd.Event // guarded by mu
	n    int         // guarded by mu
}

func (s *orderSink) Emit(e acd.Event) {
	s.mu.Lock()
	if e.Seq != s.last+1 {
		s.bad = append(s.bad, e)
	}
	s.last = e.Seq
	s.n++
	s.mu.Unlock()
	if e.Type == acd.EventOffered {
		s.r.Accept(e.ItemID, e.HelperID) // may lose to a ring-all rival
	}
}

func TestConcurrentCallersSeeOrderedEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &orderSink{}
		r, err := acd.New(acd.Config{Sink: sink, Queues: []acd.QueueConfig{
			{Name: "a"}, {Name: "b", Strategy: acd.RingAll},
		}})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		sink.r = r
		for id := int64(1); id <= 8; id++ {
			if _, err := r.SetHelper(acd.HelperConfig{ID: id, Queues: []string{"a", "b"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := r.SetStatus(id, acd.StatusAvailable, ""); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		for g := range int64(8) {
			wg.Go(func() {
				for i := range int64(200) {
					id := g*1000 + i + 1
					q := []string{"a", "b"}[i%2]
					if _, err := r.Enqueue(acd.Item{ID: id, Channel: acd.Chat, Queue: q}); err != nil {
						t.Errorf("enqueue %d: %v", id, err)
					}
					if info, ok := r.Item(id); ok && info.State == acd.StateActive {
						r.Complete(id, "")
					}
				}
			})
		}
		wg.Wait()
		sink.mu.Lock()
		defer sink.mu.Unlock()
		if len(sink.bad) > 0 || sink.n == 0 {
			t.Errorf("%d of %d events out of order, first %+v", len(sink.bad), sink.n, sink.bad)
		}
		if err := r.CheckInvariants(); err != nil {
			t.Error(err)
		}
	})
}

func TestPanickingSinkDoesNotStopDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got []acd.EventType
		panicked := false
		sink := acd.SinkFunc(func(e acd.Event) {
			if !panicked {
				panicked = true
				panic("sink broke")
			}
			got = append(got, e.Type)
		})
		r, err := acd.New(acd.Config{Sink: sink, Queues: []acd.QueueConfig{{Name: "q"}}})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		func() {
			defer func() { recover() }()
			r.Enqueue(acd.Item{ID: 1, Channel: acd.Email, Queue: "q"})
		}()
		if _, err := r.Enqueue(acd.Item{ID: 2, Channel: acd.Email, Queue: "q"}); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0] != acd.EventEnqueued {
			t.Errorf("delivered after the panic: %v, want the second enqueue", got)
		}
	})
}
