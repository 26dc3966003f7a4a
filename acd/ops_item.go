package acd

import (
	"fmt"
	"slices"
	"time"
)

// RejectReason says why an offer was turned down.
type RejectReason string

// The reject reasons. Each holds the helper back for its delay
// (Config.RejectDelay, Config.BusyDelay).
const (
	RejectDeclined RejectReason = "declined" // the helper said no
	RejectBusy     RejectReason = "busy"     // the helper's phone answered busy
)

// Target is where Transfer sends an item: a queue, a helper, or a helper
// within a queue. For a helper, the item waits for them alone for For
// (default Config.DirectFor), then for any helper of the queue.
type Target struct {
	Queue  string // empty keeps the item's queue
	Helper int64  // 0 for none
	For    time.Duration
}

// Enqueue adds a new item to its queue and offers it if a helper is free.
// It fails with ErrDuplicate, ErrUnknownQueue, ErrInvalid, ErrQueueFull or
// ErrNoHelpers (the queue's NoHelpersReject policy) and then changes
// nothing. The events include the offer when one was made.
func (r *Router) Enqueue(in Item) ([]Event, error) {
	return r.do(func() error {
		q, err := r.checkNew("enqueue", in)
		if err != nil {
			return err
		}
		if q.cfg.NoHelpers == NoHelpersReject && q.loggedIn() == 0 {
			return fmt.Errorf("enqueue item %d: queue %s: %w", in.ID, q.cfg.Name, ErrNoHelpers)
		}
		if q.cfg.MaxLength > 0 && len(q.wait) >= q.cfg.MaxLength {
			return fmt.Errorf("enqueue item %d: queue %s: %w", in.ID, q.cfg.Name, ErrQueueFull)
		}
		it := r.newItem(in, q)
		if ph := r.helpers[in.PreferredHelper]; ph != nil && ph.status != StatusOffline &&
			in.PreferredUntil.After(r.now) {
			r.stick(it, ph, in.PreferredUntil)
		}
		r.enterQueue(it, q)
		return nil
	})
}

// checkNew validates a new item and returns its queue.
func (r *Router) checkNew(op string, in Item) (*queue, error) {
	switch {
	case in.ID == 0:
		return nil, fmt.Errorf("%s: item id 0: %w", op, ErrInvalid)
	case r.items[in.ID] != nil:
		return nil, fmt.Errorf("%s item %d: %w", op, in.ID, ErrDuplicate)
	case !in.Channel.Valid():
		return nil, fmt.Errorf("%s item %d: channel %q: %w", op, in.ID, in.Channel, ErrInvalid)
	}
	for _, s := range in.Skills {
		if s.Name == "" || s.Level < 0 {
			return nil, fmt.Errorf("%s item %d: skill %q level %d: %w", op, in.ID, s.Name, s.Level, ErrInvalid)
		}
	}
	q := r.queues[in.Queue]
	if q == nil {
		return nil, fmt.Errorf("%s item %d: queue %q: %w", op, in.ID, in.Queue, ErrUnknownQueue)
	}
	return q, nil
}

func (r *Router) newItem(in Item, q *queue) *item {
	if in.Created.IsZero() {
		in.Created = r.now
	}
	if in.SLADue.IsZero() && q.cfg.SLA > 0 {
		in.SLADue = in.Created.Add(q.cfg.SLA)
	}
	in.Skills = slices.Clone(in.Skills)
	it := &item{Item: in, created: in.Created.UnixNano(), live: in.Channel.Live(), queue: q}
	r.items[in.ID] = it
	return it
}

// stick makes it wait for h alone until until.
func (r *Router) stick(it *item, h *helper, until time.Time) {
	r.cancel(it.stickyTimer)
	it.stickyTo = h
	it.stickyTimer = r.schedule(until, &timer{kind: tSticky, it: it})
}

// enterQueue puts it in q as of now and emits EventEnqueued.
func (r *Router) enterQueue(it *item, q *queue) {
	r.enterQueueAt(it, q, r.now)
	r.emit(r.itemEvent(EventEnqueued, it, nil))
}

// enterQueueAt puts it in q as if it entered at since: its place follows
// from its priority and created time, its escalation and max wait from
// since.
func (r *Router) enterQueueAt(it *item, q *queue, since time.Time) {
	it.queue, it.extra, it.step = q, nil, 0
	it.maxLevel, it.noSkills, it.prio = 0, false, it.Priority
	it.recompute()
	it.queuedAt = since
	it.state = StateQueued
	q.wait[it.ID] = it
	if steps := q.cfg.Escalation; len(steps) > 0 {
		it.escTimer = r.schedule(since.Add(steps[0].After), &timer{kind: tEscalate, it: it})
	}
	if q.cfg.MaxWait > 0 {
		it.maxWaitTimer = r.schedule(since.Add(q.cfg.MaxWait), &timer{kind: tMaxWait, it: it})
	}
	r.heapIn(it)
	r.markItem(it)
}

// leaveQueue takes a waiting item out of its queue and stops its waiting
// timers. Its offers are the caller's business.
func (r *Router) leaveQueue(it *item) {
	delete(it.queue.wait, it.ID)
	r.heapOut(it)
	for _, t := range []*timer{it.escTimer, it.maxWaitTimer, it.stickyTimer, it.avoidTimer, it.later} {
		r.cancel(t)
	}
	it.escTimer, it.maxWaitTimer, it.stickyTimer, it.avoidTimer, it.later = nil, nil, nil, nil, nil
	it.stickyTo, it.avoid = nil, nil
}

// dropOffers withdraws every offer of it without returning it to the queue.
func (r *Router) dropOffers(it *item, reason string) {
	for len(it.offers) > 0 {
		o := it.offers[0]
		r.endOffer(o)
		e := r.itemEvent(EventWithdrawn, it, o.h)
		e.Reason = reason
		r.emit(e)
		r.touch(o.h)
	}
}

// Accept gives the item to a helper holding its offer. It fails with
// ErrNoOffer when the offer is gone (timed out, withdrawn, or another helper
// of a ring-all queue was first); the other offers of a ring-all item are
// withdrawn.
func (r *Router) Accept(itemID, helperID int64) ([]Event, error) {
	return r.do(func() error {
		it, h, o, err := r.findOffer("accept", itemID, helperID)
		if err != nil {
			return err
		}
		r.endOffer(o)
		it.state = StateActive
		r.dropOffers(it, "accepted by another helper")
		wait := r.now.Sub(it.queuedAt)
		r.leaveQueue(it)
		r.assign(it, h)
		h.missed = 0
		h.counters.Accepted++
		it.queue.hist[histKind(it.Channel)].add(r.now, wait)
		e := r.itemEvent(EventAccepted, it, h)
		e.Duration = wait
		r.emit(e)
		r.touch(h)
		return nil
	})
}

func histKind(ch Channel) int {
	if ch.Live() {
		return 0
	}
	return 1
}

// assign makes h the item's active helper.
func (r *Router) assign(it *item, h *helper) {
	it.state = StateActive
	it.helper = h
	it.acceptedAt, it.connectedAt, it.heldAt, it.hold = r.now, time.Time{}, time.Time{}, 0
	h.load[chIndex(it.Channel)]++
	h.active[it.ID] = it
	r.armNoReply(it)
}

func (r *Router) armNoReply(it *item) {
	r.cancel(it.noReplyTimer)
	it.noReplyTimer = nil
	if d := it.queue.cfg.NoReply[it.Channel]; d > 0 && !it.Channel.Live() {
		it.noReplyTimer = r.schedule(r.now.Add(d), &timer{kind: tNoReply, it: it})
	}
}

// release takes an active item away from its helper.
func (r *Router) release(it *item) *helper {
	h := it.helper
	r.cancel(it.noReplyTimer)
	it.noReplyTimer = nil
	h.load[chIndex(it.Channel)]--
	delete(h.active, it.ID)
	it.helper = nil
	r.touch(h)
	return h
}

func (r *Router) findOffer(op string, itemID, helperID int64) (*item, *helper, *offer, error) {
	it, err := r.item(op, itemID)
	if err != nil {
		return nil, nil, nil, err
	}
	h, err := r.helper(op, helperID)
	if err != nil {
		return nil, nil, nil, err
	}
	o := it.offerTo(h)
	if o == nil {
		return nil, nil, nil, fmt.Errorf("%s item %d helper %d: %w", op, itemID, helperID, ErrNoOffer)
	}
	return it, h, o, nil
}

// Reject turns down a helper's offer: the item returns to its place and
// the helper is held back for the reason's delay.
func (r *Router) Reject(itemID, helperID int64, reason RejectReason) ([]Event, error) {
	return r.do(func() error {
		if reason != RejectDeclined && reason != RejectBusy {
			return fmt.Errorf("reject item %d: reason %q: %w", itemID, reason, ErrInvalid)
		}
		it, h, o, err := r.findOffer("reject", itemID, helperID)
		if err != nil {
			return err
		}
		r.endOffer(o)
		r.requeue(it)
		h.counters.Rejected++
		e := r.itemEvent(EventRejected, it, h)
		e.Reason = string(reason)
		r.emit(e)
		delay := r.cfg.RejectDelay
		if reason == RejectBusy {
			delay = r.cfg.BusyDelay
		}
		r.hold(h, delay)
		r.touch(h)
		return nil
	})
}

// activeItem returns an active item, of a live channel when live is set.
func (r *Router) activeItem(op string, id int64, live bool) (*item, error) {
	it, err := r.item(op, id)
	if err != nil {
		return nil, err
	}
	if it.state != StateActive || (live && !it.Channel.Live()) {
		return nil, fmt.Errorf("%s item %d: %s %s: %w", op, id, it.Channel, it.state, ErrState)
	}
	return it, nil
}

// Connected records that an accepted call's media is bridged to the helper.
func (r *Router) Connected(itemID int64) ([]Event, error) {
	return r.do(func() error {
		it, err := r.activeItem("connect", itemID, true)
		if err != nil {
			return err
		}
		if !it.connectedAt.IsZero() {
			return fmt.Errorf("connect item %d: already connected: %w", itemID, ErrState)
		}
		it.connectedAt = r.now
		e := r.itemEvent(EventConnected, it, it.helper)
		e.Duration = r.now.Sub(it.acceptedAt)
		r.emit(e)
		return nil
	})
}

// Hold puts an active call on hold (on) or takes it off; the hold time is
// reported by EventUnheld and summed in EventCompleted.
func (r *Router) Hold(itemID int64, on bool) ([]Event, error) {
	return r.do(func() error {
		it, err := r.activeItem("hold", itemID, true)
		if err != nil {
			return err
		}
		if on == !it.heldAt.IsZero() {
			return fmt.Errorf("hold item %d: hold already %v: %w", itemID, on, ErrState)
		}
		if on {
			it.heldAt = r.now
			r.emit(r.itemEvent(EventHeld, it, it.helper))
			return nil
		}
		e := r.itemEvent(EventUnheld, it, it.helper)
		e.Duration = r.endHold(it)
		r.emit(e)
		return nil
	})
}

func (r *Router) endHold(it *item) time.Duration {
	if it.heldAt.IsZero() {
		return 0
	}
	d := r.now.Sub(it.heldAt)
	it.hold += d
	it.heldAt = time.Time{}
	return d
}

// Replied records that the helper answered an accepted letter or chat line;
// it restarts the queue's no-reply time.
func (r *Router) Replied(itemID int64) ([]Event, error) {
	return r.do(func() error {
		it, err := r.activeItem("reply", itemID, false)
		if err != nil {
			return err
		}
		if it.Channel.Live() {
			return fmt.Errorf("reply item %d: voice: %w", itemID, ErrState)
		}
		r.armNoReply(it)
		r.emit(r.itemEvent(EventReplied, it, it.helper))
		return nil
	})
}

// Complete ends the work on an active item with its outcome (empty means
// answered for voice, replied otherwise). The helper's wrap-up for the
// queue and channel follows; the item closes when it ends.
func (r *Router) Complete(itemID int64, outcome Outcome) ([]Event, error) {
	return r.do(func() error {
		it, err := r.activeItem("complete", itemID, false)
		if err != nil {
			return err
		}
		if outcome == OutcomeNone {
			outcome = OutcomeReplied
			if it.Channel.Live() {
				outcome = OutcomeAnswered
			}
		}
		r.complete(it, outcome)
		return nil
	})
}

func (r *Router) complete(it *item, outcome Outcome) {
	r.endHold(it)
	handle := r.now.Sub(it.acceptedAt)
	h := r.release(it)
	h.counters.Completed++
	if it.Channel.Live() {
		h.counters.TalkTime += handle - it.hold
	}
	h.lastIdle = r.now
	it.completedAt, it.outcome = r.now, outcome
	wrap := it.queue.cfg.WrapUp[it.Channel]
	if wrap > 0 {
		it.state, it.helper = StateWrapUp, h
	}
	e := r.itemEvent(EventCompleted, it, h)
	e.Duration, e.Hold, e.Outcome = handle, it.hold, outcome
	r.emit(e)
	if wrap <= 0 {
		r.closeItem(it, outcome)
		return
	}
	h.wrapping = append(h.wrapping, it)
	if at := r.now.Add(wrap); h.wrap == nil || at.After(h.wrap.at) {
		r.cancel(h.wrap)
		h.wrap = r.schedule(at, &timer{kind: tWrapUp, h: h})
	}
	r.touch(h)
}

// endWrapUp closes the items in h's wrap-up and frees h.
func (r *Router) endWrapUp(h *helper) {
	r.cancel(h.wrap)
	h.wrap = nil
	for _, it := range h.wrapping {
		e := r.itemEvent(EventWrapUpEnded, it, h)
		e.Duration = r.now.Sub(it.completedAt)
		r.emit(e)
		it.helper = nil
		r.closeItem(it, it.outcome)
	}
	h.wrapping = nil
	h.lastIdle = r.now
	r.touch(h)
}

// closeItem ends a detached item with its last event.
func (r *Router) closeItem(it *item, outcome Outcome) {
	it.state, it.outcome = StateClosed, outcome
	delete(r.items, it.ID)
	e := r.itemEvent(EventClosed, it, nil)
	e.Outcome = outcome
	r.emit(e)
}

// Remove closes a waiting (queued or offered) item with an outcome decided
// outside the router: voicemail, callback, spam, duplicate, auto-replied.
// Its offers are withdrawn.
func (r *Router) Remove(itemID int64, outcome Outcome) ([]Event, error) {
	return r.do(func() error {
		it, err := r.waitingItem("remove", itemID)
		if err != nil {
			return err
		}
		r.dropOffers(it, "closed")
		r.leaveQueue(it)
		r.closeItem(it, outcome)
		return nil
	})
}

// Abandon closes a waiting item whose caller hung up (a missed call), with
// EventAbandoned and the outcome abandoned. Ringing offers are withdrawn, so
// no helper answers a caller who is gone.
func (r *Router) Abandon(itemID int64) ([]Event, error) {
	return r.do(func() error {
		it, err := r.waitingItem("abandon", itemID)
		if err != nil {
			return err
		}
		r.dropOffers(it, "abandoned")
		r.leaveQueue(it)
		e := r.itemEvent(EventAbandoned, it, nil)
		e.Duration = r.now.Sub(it.queuedAt)
		r.emit(e)
		r.closeItem(it, OutcomeAbandoned)
		return nil
	})
}

func (r *Router) waitingItem(op string, id int64) (*item, error) {
	it, err := r.item(op, id)
	if err != nil {
		return nil, err
	}
	if it.state != StateQueued && it.state != StateOffered {
		return nil, fmt.Errorf("%s item %d: %s: %w", op, id, it.state, ErrState)
	}
	return it, nil
}
