package acd

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Transfer moves a queued, offered or active item to another queue, to a
// helper, or both. The item keeps its created time, so it takes its place by
// priority and age; offers are withdrawn and an active helper is freed
// without wrap-up. A target helper must be logged in (else ErrUnavailable).
func (r *Router) Transfer(itemID int64, to Target) ([]Event, error) {
	return r.do(func() error {
		it, q, th, err := r.checkTransfer(itemID, to)
		if err != nil {
			return err
		}
		from := it.queue.cfg.Name
		old := r.detach(it, "transferred")
		e := r.itemEvent(EventTransferred, it, th)
		e.FromQueue, e.Queue = from, q.cfg.Name
		if th == nil && old != nil {
			e.HelperID = old.id
		}
		r.emit(e)
		if th != nil {
			d := to.For
			if d <= 0 {
				d = r.cfg.DirectFor
			}
			r.stick(it, th, r.now.Add(d))
		}
		r.enterQueue(it, q)
		return nil
	})
}

func (r *Router) checkTransfer(itemID int64, to Target) (*item, *queue, *helper, error) {
	it, err := r.item("transfer", itemID)
	if err != nil {
		return nil, nil, nil, err
	}
	if it.state != StateQueued && it.state != StateOffered && it.state != StateActive {
		return nil, nil, nil, fmt.Errorf("transfer item %d: %s: %w", itemID, it.state, ErrState)
	}
	if to.Queue == "" && to.Helper == 0 {
		return nil, nil, nil, fmt.Errorf("transfer item %d: no target: %w", itemID, ErrInvalid)
	}
	q := it.queue
	if to.Queue != "" {
		if q = r.queues[to.Queue]; q == nil {
			return nil, nil, nil, fmt.Errorf("transfer item %d: queue %q: %w", itemID, to.Queue, ErrUnknownQueue)
		}
	}
	if q != it.queue && q.cfg.MaxLength > 0 && len(q.wait) >= q.cfg.MaxLength {
		return nil, nil, nil, fmt.Errorf("transfer item %d: queue %s: %w", itemID, q.cfg.Name, ErrQueueFull)
	}
	var th *helper
	if to.Helper != 0 {
		if th, err = r.helper("transfer", to.Helper); err != nil {
			return nil, nil, nil, err
		}
		if th.status == StatusOffline {
			return nil, nil, nil, fmt.Errorf("transfer item %d: helper %d: %w", itemID, th.id, ErrUnavailable)
		}
	}
	return it, q, th, nil
}

// detach takes an item out of whatever holds it (offers, queue, helper) and
// returns the helper it was active with, if any.
func (r *Router) detach(it *item, reason string) *helper {
	r.dropOffers(it, reason)
	if it.state == StateActive {
		return r.release(it)
	}
	r.leaveQueue(it)
	return nil
}

// Recall takes an offered or active item back from its helper, for a
// supervisor, and returns it to its queue. It is not offered to that helper
// again for Config.AvoidFor.
func (r *Router) Recall(itemID int64) ([]Event, error) {
	return r.do(func() error {
		it, err := r.item("recall", itemID)
		if err != nil {
			return err
		}
		switch it.state {
		case StateActive:
			h := r.release(it)
			r.emit(r.itemEvent(EventRecalled, it, h))
			r.enterQueue(it, it.queue)
			r.avoidHelper(it, h)
		case StateOffered:
			hs := make([]*helper, 0, len(it.offers))
			for _, o := range it.offers {
				hs = append(hs, o.h)
			}
			r.dropOffers(it, "recalled")
			r.requeue(it)
			for _, h := range hs {
				r.emit(r.itemEvent(EventRecalled, it, h))
			}
			if len(hs) == 1 {
				r.avoidHelper(it, hs[0])
			}
		default:
			return fmt.Errorf("recall item %d: %s: %w", itemID, it.state, ErrState)
		}
		return nil
	})
}

// Postpone takes an active item back from its helper, as Recall does,
// and returns it to its queue, where it waits with its created time but is
// offered to nobody before until: a callback whose number did not answer
// is tried again later rather than at once. Any helper may get it then,
// also the one who tried. A queued item (one restored after a restart)
// stays in its place and is held back the same way. A transfer or a close
// ends the postponement. It fails with ErrState for an item in another
// state.
func (r *Router) Postpone(itemID int64, until time.Time) ([]Event, error) {
	return r.do(func() error {
		it, err := r.item("postpone", itemID)
		if err != nil {
			return err
		}
		switch it.state {
		case StateActive:
			h := r.release(it)
			r.emit(r.itemEvent(EventRecalled, it, h))
			r.hideUntil(it, until)
			r.enterQueue(it, it.queue)
		case StateQueued:
			r.heapOut(it)
			r.hideUntil(it, until)
			r.heapIn(it)
			r.markItem(it)
		default:
			return fmt.Errorf("postpone item %d: %s: %w", itemID, it.state, ErrState)
		}
		return nil
	})
}

// hideUntil keeps it out of every heap until until, when that is later
// than now.
func (r *Router) hideUntil(it *item, until time.Time) {
	r.cancel(it.later)
	it.later = nil
	if until.After(r.now) {
		it.later = r.schedule(until, &timer{kind: tLater, it: it})
	}
}

func (r *Router) avoidHelper(it *item, h *helper) {
	r.cancel(it.avoidTimer)
	it.avoid = h
	it.avoidTimer = r.schedule(r.now.Add(r.cfg.AvoidFor), &timer{kind: tAvoid, it: it})
}

// takeBack returns an accepted letter or chat with no reply in time to the
// queue, to be offered to another helper.
func (r *Router) takeBack(it *item) {
	it.noReplyTimer = nil
	h := r.release(it)
	r.emit(r.itemEvent(EventTakenBack, it, h))
	r.enterQueue(it, it.queue)
	r.avoidHelper(it, h)
}

// escalate applies the item's next escalation step.
func (r *Router) escalate(it *item) {
	it.escTimer = nil
	steps := it.queue.cfg.Escalation
	if it.step >= len(steps) {
		return
	}
	s := steps[it.step]
	it.step++
	it.prio += s.PriorityBoost
	if s.MaxLevel > 0 && (it.maxLevel == 0 || s.MaxLevel < it.maxLevel) {
		it.maxLevel = s.MaxLevel
	}
	it.noSkills = it.noSkills || s.DropSkills
	for _, name := range s.Queues {
		q := r.queues[name]
		if q == nil {
			r.log.Warn("escalation to unknown queue", "item_id", it.ID, "queue", name)
			continue
		}
		if q != it.queue && !slices.Contains(it.extra, q) {
			it.extra = append(it.extra, q)
		}
	}
	it.recompute()
	r.rebucket(it)
	r.markItem(it)
	e := r.itemEvent(EventEscalated, it, nil)
	e.Reason = "step " + strconv.Itoa(it.step)
	e.Duration = r.now.Sub(it.queuedAt)
	r.emit(e)
	if it.step < len(steps) {
		at := it.queuedAt.Add(steps[it.step].After)
		it.escTimer = r.schedule(at, &timer{kind: tEscalate, it: it})
	}
}

func (r *Router) maxWaited(it *item) {
	it.maxWaitTimer = nil
	e := r.itemEvent(EventMaxWait, it, nil)
	e.Duration = r.now.Sub(it.queuedAt)
	r.emit(e)
}

// unstick lets any helper of the item's queues take it.
func (r *Router) unstick(it *item) {
	r.cancel(it.stickyTimer)
	it.stickyTimer = nil
	if it.stickyTo == nil {
		return
	}
	in := it.inHeap()
	r.heapOut(it)
	it.stickyTo = nil
	if in {
		r.heapIn(it)
	}
	r.markItem(it)
}
