package acd

import (
	"fmt"
	"time"
)

// Stored is an item as the store kept it, for Restore.
type Stored struct {
	Item
	State    State
	HelperID int64     // the helper it was offered or assigned to
	QueuedAt time.Time // when it entered its queue; zero means Created
	Outcome  Outcome   // for items in wrap-up
}

// Restore rebuilds the router's items after a restart. Call it once, after
// SetQueue and SetHelper for every queue and helper (who are offline until
// they come back). Waiting items return with their created time, so they
// take their old place; offers in flight return to the queue
// (EventWithdrawn, reason "recovery"); active items stay with a known
// helper and return to the queue otherwise; items in wrap-up close.
// Escalation and max wait count from QueuedAt, so steps already due run at
// once. Closed items are skipped. An invalid item fails the whole call and
// changes nothing.
func (r *Router) Restore(items []Stored) ([]Event, error) {
	return r.do(func() error {
		qs := make([]*queue, len(items))
		seen := map[int64]bool{}
		for i, s := range items {
			q, err := r.checkNew("restore", s.Item)
			if err != nil {
				return err
			}
			if s.Created.IsZero() || !s.State.Valid() || seen[s.ID] {
				return fmt.Errorf("restore item %d: created %v state %q: %w", s.ID, s.Created, s.State, ErrInvalid)
			}
			seen[s.ID] = true
			qs[i] = q
		}
		for i, s := range items {
			r.restore(s, qs[i])
		}
		return nil
	})
}

func (r *Router) restore(s Stored, q *queue) {
	if s.State == StateClosed {
		return
	}
	it := r.newItem(s.Item, q)
	if s.State == StateWrapUp {
		it.state = StateWrapUp
		outcome := s.Outcome
		if outcome == OutcomeNone {
			outcome = OutcomeAnswered
		}
		r.closeItem(it, outcome)
		return
	}
	since := s.QueuedAt
	if since.IsZero() {
		since = s.Created
	}
	if h := r.helpers[s.HelperID]; s.State == StateActive && h != nil {
		it.queuedAt = since
		r.assign(it, h)
		r.touch(h)
		return
	}
	r.enterQueueAt(it, q, since)
	switch s.State {
	case StateOffered:
		e := r.itemEvent(EventWithdrawn, it, nil)
		e.HelperID, e.Reason = s.HelperID, "recovery"
		r.emit(e)
	case StateActive:
		e := r.itemEvent(EventEnqueued, it, nil)
		e.Reason = "recovery"
		r.emit(e)
	}
}
