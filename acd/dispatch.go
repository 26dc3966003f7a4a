package acd

import (
	"context"
	"log/slog"
	"slices"
	"time"
)

// dispatchLocked makes every offer the last changes allow. Freed helpers go
// first (each takes the best item waiting for them), then new or returned
// items (each goes to a free helper chosen by its queue's strategy). After
// it, no free helper is eligible for a waiting item.
func (r *Router) dispatchLocked() {
	hi, ii := 0, 0
	for hi < len(r.dirtyH) || ii < len(r.dirtyI) {
		if hi < len(r.dirtyH) {
			h := r.dirtyH[hi]
			r.dirtyH[hi] = nil
			hi++
			h.dirty = false
			r.pull(h)
			continue
		}
		it := r.dirtyI[ii]
		r.dirtyI[ii] = nil
		ii++
		it.dirty = false
		r.place(it)
	}
	r.dirtyH, r.dirtyI = r.dirtyH[:0], r.dirtyI[:0]
}

// pull offers h the best item waiting for them, or, when h is ringing for a
// letter and a call waits, swaps the letter's offer for the call.
func (r *Router) pull(h *helper) {
	switch {
	case h.canOffer():
		if it := r.bestFor(h, false); it != nil {
			r.offer(it, h)
		}
	case h.voiceReady() && h.offer != nil:
		if it := r.bestFor(h, true); it != nil {
			r.offer(it, h)
		}
	}
}

// bestFor returns the best waiting item h may take, looking only at the top
// of each bucket of h's queues that h qualifies for, and at h's sticky
// items. With voiceOnly it looks at calls only.
func (r *Router) bestFor(h *helper, voiceOnly bool) *item {
	var best *item
	ok := func(it *item) bool { return it.avoid != h && it.offerTo(h) == nil }
	for _, e := range h.sticky.es {
		it := e.it
		if (!voiceOnly || it.live) && h.canTake(it.Channel) && ok(it) &&
			(best == nil || ahead(it, best)) {
			best = it
		}
	}
	for _, q := range h.queues {
		if !q.routable() {
			continue
		}
		for _, b := range q.list {
			if b.len() == 0 || (voiceOnly && !b.live) {
				continue
			}
			top := b.top()
			if best != nil && !ahead(top, best) {
				continue
			}
			if !h.canTake(b.ch) || !h.satisfies(b.req) {
				continue
			}
			if !ok(top) {
				if top = b.bestWithout(ok); top == nil || (best != nil && !ahead(top, best)) {
					continue
				}
			}
			best = top
		}
	}
	return best
}

// place offers a waiting item to a free helper chosen by its queue's
// strategy, or to every eligible free helper in a ring-all queue.
func (r *Router) place(it *item) {
	if !it.waiting() || it.later != nil {
		return
	}
	if h := it.stickyTo; h != nil {
		if r.eligible(h, it) {
			r.offer(it, h)
		}
		return
	}
	cands := r.candidates(it)
	if len(cands) == 0 {
		return
	}
	if it.ringAll() {
		for _, h := range cands {
			r.offer(it, h)
		}
		return
	}
	r.offer(it, r.choose(it, cands))
}

// candidates lists the free helpers of it's queues who may take it.
func (r *Router) candidates(it *item) []*helper {
	r.markGen++
	cands := r.scratch[:0]
	for _, q := range it.queues() {
		if !q.routable() {
			continue
		}
		set := &q.idle[chIndex(it.Channel)]
		if it.Channel.Live() {
			set = &q.voice
		}
		for _, h := range set.list {
			if h.mark == r.markGen {
				continue
			}
			h.mark = r.markGen
			if r.eligible(h, it) && h.satisfies(it.req) {
				cands = append(cands, h)
			}
		}
	}
	r.scratch = cands
	if it.live {
		cands = preferUnoffered(cands)
	}
	return cands
}

// preferUnoffered drops the helpers ringing for a letter when some helper
// is not: a call displaces a letter's offer only when it must.
func preferUnoffered(hs []*helper) []*helper {
	free := 0
	for _, h := range hs {
		if h.offer == nil {
			hs[free] = h
			free++
		}
	}
	if free == 0 {
		return hs
	}
	return hs[:free]
}

// eligible reports whether h may be offered it now, skills aside.
func (r *Router) eligible(h *helper, it *item) bool {
	if it.avoid == h || it.offerTo(h) != nil || !h.canTake(it.Channel) {
		return false
	}
	if it.Channel.Live() {
		return h.voiceReady()
	}
	return h.canOffer()
}

// choose applies the item's queue strategy to the candidates.
func (r *Router) choose(it *item, cands []*helper) *helper {
	q := it.queue
	switch q.cfg.Strategy {
	case RoundRobin:
		return r.roundRobin(q, cands)
	case LeastBusy:
		return minBy(cands, func(a, b *helper) bool {
			if a.counters.Completed != b.counters.Completed {
				return a.counters.Completed < b.counters.Completed
			}
			if a.counters.TalkTime != b.counters.TalkTime {
				return a.counters.TalkTime < b.counters.TalkTime
			}
			return idler(a, b)
		})
	case BySkill:
		return minBy(cands, func(a, b *helper) bool {
			if la, lb := skillSum(a, it), skillSum(b, it); la != lb {
				return la > lb
			}
			return idler(a, b)
		})
	case Random:
		slices.SortFunc(cands, func(a, b *helper) int { return cmpID(a.id, b.id) })
		return cands[r.rand.IntN(len(cands))]
	}
	return minBy(cands, idler)
}

func (r *Router) roundRobin(q *queue, cands []*helper) *helper {
	var next, first *helper
	for _, h := range cands {
		if first == nil || h.id < first.id {
			first = h
		}
		if h.id > q.rrLast && (next == nil || h.id < next.id) {
			next = h
		}
	}
	if next == nil {
		next = first
	}
	q.rrLast = next.id
	return next
}

// idler orders helpers by load, then by how long they have been idle.
func idler(a, b *helper) bool {
	if la, lb := a.totalLoad(), b.totalLoad(); la != lb {
		return la < lb
	}
	if !a.lastIdle.Equal(b.lastIdle) {
		return a.lastIdle.Before(b.lastIdle)
	}
	return a.id < b.id
}

func skillSum(h *helper, it *item) int {
	n := 0
	for _, s := range it.Skills {
		n += h.skills[s.Name]
	}
	return n
}

func minBy(hs []*helper, less func(a, b *helper) bool) *helper {
	best := hs[0]
	for _, h := range hs[1:] {
		if less(h, best) {
			best = h
		}
	}
	return best
}

func cmpID(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// offer reserves it for h until the channel's deadline. A pending letter
// offer of h gives way to a call.
func (r *Router) offer(it *item, h *helper) {
	if h.offer != nil {
		r.withdraw(h.offer, "preempted by a call")
	}
	o := &offer{it: it, h: h}
	o.deadline = r.now.Add(it.queue.offerTimeout(it.Channel, r.cfg.OfferTimeout))
	o.timer = r.schedule(o.deadline, &timer{kind: tOffer, o: o})
	h.offer = o
	it.offers = append(it.offers, o)
	if !it.ringAll() || it.stickyTo != nil {
		r.heapOut(it)
	}
	it.state = StateOffered
	h.counters.Offered++
	e := r.itemEvent(EventOffered, it, h)
	e.Deadline = o.deadline
	r.emit(e)
	if r.log.Enabled(context.Background(), slog.LevelInfo) {
		r.log.Info("item offered", "item_id", it.ID, "helper", h.id, "queue", it.queue.cfg.Name)
	}
	r.touch(h)
}

// endOffer detaches an offer from its item and helper.
func (r *Router) endOffer(o *offer) {
	r.cancel(o.timer)
	o.h.offer = nil
	it := o.it
	if i := slices.Index(it.offers, o); i >= 0 {
		it.offers = slices.Delete(it.offers, i, i+1)
	}
}

// withdraw ends an offer the helper did not answer, with no RONA, and puts
// the item back in its place.
func (r *Router) withdraw(o *offer, reason string) {
	r.endOffer(o)
	r.requeue(o.it)
	e := r.itemEvent(EventWithdrawn, o.it, o.h)
	e.Reason = reason
	r.emit(e)
	r.touch(o.h)
}

// requeue returns an item whose offer ended to its place in the queue.
func (r *Router) requeue(it *item) {
	if len(it.offers) > 0 {
		return
	}
	it.state = StateQueued
	r.heapIn(it)
	r.markItem(it)
}

// offerTimedOut counts a RONA against the helper, pauses them after too
// many in a row, and returns the item to its place.
func (r *Router) offerTimedOut(o *offer) {
	h := o.h
	r.endOffer(o)
	r.requeue(o.it)
	h.counters.Missed++
	h.missed++
	e := r.itemEvent(EventTimedOut, o.it, h)
	e.Deadline = o.deadline
	r.emit(e)
	if r.cfg.MaxMissed > 0 && h.missed >= r.cfg.MaxMissed {
		r.log.Info("helper paused", "helper", h.id, "reason", ReasonMissedOffers, "missed", h.missed)
		r.setStatus(h, StatusAway, ReasonMissedOffers)
		return
	}
	r.hold(h, r.cfg.NoAnswerDelay)
	r.touch(h)
}

// hold keeps h from new offers for d.
func (r *Router) hold(h *helper, d time.Duration) {
	if d <= 0 {
		return
	}
	at := r.now.Add(d)
	if h.delay != nil {
		if !at.After(h.delay.at) {
			return
		}
		r.cancel(h.delay)
	}
	h.delay = r.schedule(at, &timer{kind: tDelay, h: h})
}
