package work

import (
	"context"
	"encoding/json"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/stats"
	"github.com/morozhq/moroz/store"
)

// Persister limits.
const (
	persistParallel = 32              // items written at once, to share group commits
	flushTimeout    = 5 * time.Second // what Close waits for the store
	retryMax        = 5 * time.Second // longest pause between retries
)

// record is an event waiting to be stored, with what the Service adds to it.
type record struct {
	acd.Event
	note string // completed: the helper's wrap-up note
}

// Emit receives the router's events (acd.Sink). It only queues: the
// persister writes them and then tells the listeners.
func (s *Service) Emit(e acd.Event) {
	s.mu.Lock()
	rec := record{Event: e}
	if e.Type == acd.EventCompleted {
		rec.note = s.notes[e.ItemID]
		delete(s.notes, e.ItemID)
	}
	s.pending = append(s.pending, rec)
	s.trackLocked(e)
	s.mu.Unlock()
	s.count(e)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// trackLocked keeps the open items the live statistics count.
func (s *Service) trackLocked(e acd.Event) {
	if e.ItemID == 0 {
		return
	}
	switch e.Type {
	case acd.EventEnqueued:
		if s.open[e.ItemID] == nil {
			s.open[e.ItemID] = &openItem{channel: e.Channel}
		}
	case acd.EventAccepted, acd.EventReplied:
		if o := s.open[e.ItemID]; o != nil {
			o.answered = true
		}
	case acd.EventClosed:
		delete(s.open, e.ItemID)
	}
}

func (s *Service) count(e acd.Event) {
	switch e.Type {
	case acd.EventOffered:
		s.day.Observe(stats.KindOffered, e.At)
	case acd.EventAccepted:
		s.day.Observe(stats.KindAnswered, e.At)
	case acd.EventAbandoned:
		s.day.Observe(stats.KindAbandoned, e.At)
	}
}

// CountMissed counts a missed call: an inbound call that ended without a
// helper, for any reason (abandoned, after hours, nobody logged in, max
// wait, voicemail left, a callback asked for). The call flow says so; the
// router cannot tell all of these apart.
func (s *Service) CountMissed(at time.Time) { s.day.Observe(stats.KindMissed, at) }

// Listen registers f to receive every event in order, after it is stored.
// f runs on the persister goroutine and must not block; stop unregisters
// it.
func (s *Service) Listen(f func(acd.Event)) (stop func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextLis
	s.nextLis++
	s.lis[id] = f
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.lis, id)
	}
}

// persist is the persister goroutine: it takes what is pending, writes it,
// then tells the listeners, until Close.
func (s *Service) persist() {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // a flush on Close gets flushTimeout, then gives up
		<-s.stop
		select {
		case <-time.After(flushTimeout):
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		select {
		case <-s.wake:
		case <-s.stop:
			s.flush(ctx)
			return
		}
		s.flush(ctx)
	}
}

// flush writes everything pending and notifies the listeners. The two
// batches' arrays take turns, so that Emit does not grow a new one each
// flush.
func (s *Service) flush(ctx context.Context) {
	for {
		s.mu.Lock()
		batch := s.pending
		if len(batch) == 0 {
			s.mu.Unlock()
			return
		}
		s.pending, s.spare = s.spare, nil
		s.mu.Unlock()
		s.write(ctx, batch)
		s.notify(batch)
		clear(batch)
		s.mu.Lock()
		s.spare = batch[:0]
		s.mu.Unlock()
	}
}

// write stores a batch: each item's events in one store request, in
// order, items in parallel.
func (s *Service) write(ctx context.Context, batch []record) {
	byItem := map[int64][]record{}
	var order []int64
	for _, e := range batch {
		if e.ItemID == 0 {
			continue // helper and queue events are not item history
		}
		if byItem[e.ItemID] == nil {
			order = append(order, e.ItemID)
		}
		byItem[e.ItemID] = append(byItem[e.ItemID], e)
	}
	var g errgroup.Group
	g.SetLimit(persistParallel)
	for _, id := range order {
		events := byItem[id]
		g.Go(func() error {
			s.writeItem(ctx, id, events)
			return nil
		})
	}
	g.Wait()
}

// writeItem stores one item's events, retrying while the store is away,
// until ctx ends (Close's flush deadline).
func (s *Service) writeItem(ctx context.Context, id int64, events []record) {
	us := make([]store.ItemUpdate, len(events))
	for i, e := range events {
		us[i] = toUpdate(e)
	}
	wait := 50 * time.Millisecond
	for {
		err := s.st.ApplyItemUpdates(ctx, id, us)
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			s.log.Error("router events not stored; the item's history misses them", "item_id", id,
				"events", len(events), "first", string(events[0].Type), "err", err)
			return
		}
		s.log.Warn("storing router events; retrying", "item_id", id, "events", len(events),
			"first", string(events[0].Type), "err", err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		wait = min(2*wait, retryMax)
	}
}

func (s *Service) notify(batch []record) {
	s.mu.Lock()
	fs := make([]func(acd.Event), 0, len(s.lis))
	for _, f := range s.lis {
		fs = append(fs, f)
	}
	s.mu.Unlock()
	for _, e := range batch {
		for _, f := range fs {
			f(e.Event)
		}
	}
}

// eventData is the JSON stored with each event: what the metrics need.
type eventData struct {
	Queue     string      `json:"queue,omitempty"`
	FromQueue string      `json:"from_queue,omitempty"`
	Deadline  *time.Time  `json:"deadline,omitempty"`
	Duration  float64     `json:"duration,omitempty"` // seconds
	Hold      float64     `json:"hold,omitempty"`     // seconds
	Reason    string      `json:"reason,omitempty"`
	Outcome   acd.Outcome `json:"outcome,omitempty"`
	Note      string      `json:"note,omitempty"`
	Seq       uint64      `json:"seq"`
}

// toUpdate turns a router event into the item's new state and history
// entry.
func toUpdate(e record) store.ItemUpdate {
	d := eventData{Queue: e.Queue, FromQueue: e.FromQueue, Duration: e.Duration.Seconds(), Hold: e.Hold.Seconds(),
		Reason: e.Reason, Outcome: e.Outcome, Note: e.note, Seq: e.Seq}
	if !e.Deadline.IsZero() {
		d.Deadline = &e.Deadline
	}
	data, _ := json.Marshal(d)
	u := store.ItemUpdate{Event: store.Event{At: e.At, Type: string(e.Type), HelperID: e.HelperID, Data: data}}
	if e.State.Valid() {
		st := e.State
		u.State = &st
		switch st {
		case acd.StateQueued:
			none := int64(0)
			u.HelperID = &none
		case acd.StateOffered, acd.StateActive, acd.StateWrapUp:
			if e.HelperID != 0 {
				h := e.HelperID
				u.HelperID = &h
			}
		}
	}
	if e.Queue != "" {
		q := e.Queue
		u.Queue = &q
	}
	if e.Type == acd.EventClosed || e.Outcome != "" {
		o := e.Outcome
		u.Outcome = &o
	}
	return u
}

// Live returns the live statistics: the router's queues and helpers, and
// today's counts.
func (s *Service) Live(ctx context.Context) (stats.Live, error) {
	now := s.now()
	live := stats.Live{Queues: []stats.QueueLive{}, Helpers: map[string]int{}, Today: s.day.Today(now), At: now}
	for _, q := range s.router.Queues() {
		ql := stats.QueueLive{Name: q.Name, Waiting: q.Waiting}
		if q.Waiting > 0 && !q.Oldest.IsZero() {
			ql.LongestWait = now.Sub(q.Oldest).Seconds()
		}
		live.Queues = append(live.Queues, ql)
	}
	for _, h := range s.router.Helpers() {
		status := string(h.Status)
		if h.Status == acd.StatusAvailable && h.Busy {
			status = "busy"
		}
		live.Helpers[status]++
	}
	s.mu.Lock()
	for _, o := range s.open {
		if o.channel == acd.Callback {
			live.Today.OpenCallbacks++
		}
		if !o.answered && o.channel != acd.Voice {
			live.Today.Unanswered++
		}
	}
	s.mu.Unlock()
	return live, nil
}
