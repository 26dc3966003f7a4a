package acd

import (
	"errors"
	"fmt"
	"slices"
)

// CheckInvariants verifies the router's internal consistency and its
// routing promises; the randomised test calls it after every operation.
func (r *Router) CheckInvariants() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for id, it := range r.items {
		if err := r.checkItem(it); err != nil {
			errs = append(errs, fmt.Errorf("item %d (%s %s): %w", id, it.Channel, it.state, err))
		}
	}
	for id, h := range r.helpers {
		if err := r.checkHelperState(h); err != nil {
			errs = append(errs, fmt.Errorf("helper %d: %w", id, err))
		}
	}
	for _, q := range r.queues {
		for _, b := range q.list {
			if err := b.check(); err != nil {
				errs = append(errs, fmt.Errorf("queue %s bucket %s %q: %w", q.cfg.Name, b.ch, b.sig, err))
			}
		}
	}
	for i, t := range r.timers {
		if t.idx != i {
			errs = append(errs, fmt.Errorf("timer %d: index %d", i, t.idx))
		}
	}
	return errors.Join(errs...)
}

func (r *Router) checkItem(it *item) error {
	if it.created != it.Created.UnixNano() {
		return errors.New("created time changed")
	}
	for _, o := range it.offers {
		if o.h.offer != o || o.timer == nil || o.timer.idx < 0 {
			return fmt.Errorf("offer to helper %d not held or not timed", o.h.id)
		}
	}
	if len(it.offers) > 1 && !it.ringAll() {
		return fmt.Errorf("offered to %d helpers", len(it.offers))
	}
	for _, e := range it.entries {
		if e.idx < 0 || e.idx >= len(e.hp.es) || e.hp.es[e.idx] != e {
			return errors.New("heap entry out of place")
		}
	}
	_, inWait := it.queue.wait[it.ID]
	switch it.state {
	case StateQueued:
		if len(it.offers) > 0 || it.inHeap() == (it.later != nil) || !inWait {
			return errors.New("queued but offered, not in its queue, or postponed in a heap")
		}
		if it.later != nil {
			return nil
		}
		if h := it.stickyTo; h != nil && r.eligible(h, it) {
			return fmt.Errorf("waits while its preferred helper %d is free", h.id)
		}
		if c := r.candidates(it); it.stickyTo == nil && len(c) > 0 {
			return fmt.Errorf("waits while helper %d is free for it", c[0].id)
		}
	case StateOffered:
		if len(it.offers) == 0 || !inWait || (it.inHeap() && !it.ringAll()) {
			return errors.New("offered without an offer, or still in a heap")
		}
	case StateActive:
		if it.helper == nil || it.helper.active[it.ID] != it || len(it.offers) > 0 || it.inHeap() || inWait {
			return errors.New("active but not held by its helper alone")
		}
	case StateWrapUp:
		if it.helper == nil || !slices.Contains(it.helper.wrapping, it) || it.helper.wrap == nil {
			return errors.New("in wrap-up without its helper's wrap-up")
		}
	default:
		return errors.New("open item in an impossible state")
	}
	return nil
}

func (r *Router) checkHelperState(h *helper) error {
	var load [numChannels]int
	for _, it := range h.active {
		if it.helper != h || it.state != StateActive {
			return fmt.Errorf("active item %d not active with this helper", it.ID)
		}
		load[chIndex(it.Channel)]++
	}
	if load != h.load {
		return fmt.Errorf("load %v, items say %v", h.load, load)
	}
	// A supervisor may lower a capacity below the load; the router must
	// then offer nothing more of that channel.
	if o := h.offer; o != nil {
		i := chIndex(o.it.Channel)
		if h.load[i]+1 > h.capacity[i] {
			return fmt.Errorf("offered %s with %d of %d", Channels[i], h.load[i], h.capacity[i])
		}
	}
	if h.load[0] > 0 && h.offer != nil {
		return fmt.Errorf("on a call and offered item %d", h.offer.it.ID)
	}
	if h.offer != nil && (h.offer.it.offerTo(h) != h.offer || h.status != StatusAvailable) {
		return errors.New("dangling offer, or offered while not available")
	}
	if h.inVoice != h.voiceReady() {
		return errors.New("voice set out of date")
	}
	for qi, q := range h.queues {
		for i := 1; i < numChannels; i++ {
			in := q.idle[i].has(h, h.slots[qi][i])
			if want := h.canOffer() && h.canTake(Channels[i]); in != want || (h.idleMask&(1<<i) != 0) != want {
				return fmt.Errorf("queue %s: free set of %s out of date", q.cfg.Name, Channels[i])
			}
		}
		voice := q.voice.has(h, h.slots[qi][0])
		if voice != h.inVoice || q.members[h.id] != h {
			return fmt.Errorf("queue %s sets out of date", q.cfg.Name)
		}
	}
	if err := h.sticky.check(); err != nil {
		return fmt.Errorf("sticky heap: %w", err)
	}
	return r.checkNothingFor(h)
}

// checkNothingFor verifies dispatch is complete for h: a free helper has no
// waiting item they may take, and a helper ringing for a letter has no call
// waiting for them (voice is never behind a letter).
func (r *Router) checkNothingFor(h *helper) error {
	if h.canOffer() {
		if it := r.bestFor(h, false); it != nil {
			return fmt.Errorf("free while item %d waits for them", it.ID)
		}
	}
	if h.voiceReady() && h.offer != nil {
		if it := r.bestFor(h, true); it != nil {
			return fmt.Errorf("rung for letter %d while call %d waits", h.offer.it.ID, it.ID)
		}
	}
	return nil
}

func (hp *itemHeap) check() error {
	for i, e := range hp.es {
		if e.idx != i || e.hp != hp {
			return fmt.Errorf("entry %d out of place", i)
		}
		if i > 0 && ahead(e.it, hp.es[(i-1)/2].it) {
			return fmt.Errorf("entry %d ahead of its parent", i)
		}
	}
	return nil
}
