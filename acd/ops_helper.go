package acd

import (
	"fmt"
	"maps"
)

// SetQueue adds a queue or replaces the configuration of one; its waiting
// items stay. The events are offers that an opened queue allows.
func (r *Router) SetQueue(cfg QueueConfig) ([]Event, error) {
	return r.do(func() error {
		if err := cfg.validate(); err != nil {
			return fmt.Errorf("set queue: %w", err)
		}
		q := r.queues[cfg.Name]
		if q == nil {
			q = newQueue(cfg, r.cfg.HistorySize)
			r.queues[cfg.Name] = q
		}
		wasRingAll := q.cfg.Strategy == RingAll
		q.cfg = cfg
		if wasRingAll && cfg.Strategy != RingAll {
			r.stopRinging(q)
		}
		r.cancel(q.hours)
		q.hours = nil
		q.open = cfg.Hours.Open(r.now)
		r.scheduleHours(q)
		r.wakeQueue(q)
		return nil
	})
}

// stopRinging withdraws the offers of a queue's ringing items when it stops
// being ring-all; they are offered again by the new strategy.
func (r *Router) stopRinging(q *queue) {
	for _, it := range q.waitingByID() {
		if it.inHeap() && len(it.offers) > 0 {
			r.dropOffers(it, "strategy changed")
			r.requeue(it)
		}
	}
}

func (r *Router) scheduleHours(q *queue) {
	if next := q.cfg.Hours.NextChange(r.now); !next.IsZero() {
		q.hours = r.schedule(next, &timer{kind: tHours, q: q})
	}
}

// hoursChanged opens or closes a queue at a business-hours boundary.
func (r *Router) hoursChanged(q *queue) {
	q.hours = nil
	open := q.cfg.Hours.Open(r.now)
	if open != q.open {
		q.open = open
		t := EventQueueClosed
		if open {
			t = EventQueueOpened
		}
		r.emit(Event{Type: t, Queue: q.cfg.Name})
		r.log.Info("queue hours", "queue", q.cfg.Name, "open", open)
	}
	r.scheduleHours(q)
	r.wakeQueue(q)
}

// wakeQueue lets the free helpers of a routable queue look for items.
func (r *Router) wakeQueue(q *queue) {
	if !q.routable() {
		return
	}
	for i := range q.idle {
		for _, h := range q.idle[i].list {
			r.markHelper(h)
		}
	}
	for _, h := range q.voice.list {
		r.markHelper(h)
	}
}

// SetHelper adds a helper (offline) or replaces a helper's profile; status,
// load and counters stay, and a pending offer the new profile does not allow
// (no room, or not one of the helper's queues) is withdrawn. Every queue
// named must exist.
func (r *Router) SetHelper(cfg HelperConfig) ([]Event, error) {
	return r.do(func() error {
		qs, err := r.checkHelper(cfg)
		if err != nil {
			return err
		}
		h := r.helpers[cfg.ID]
		if h == nil {
			h = &helper{id: cfg.ID, status: StatusOffline, active: map[int64]*item{}, lastIdle: r.now}
			r.helpers[cfg.ID] = h
		}
		r.unindex(h)
		h.queues = qs
		h.slots = make([][numChannels]int, len(qs))
		for qi, q := range qs {
			q.members[h.id] = h
			for i := range h.slots[qi] {
				h.slots[qi][i] = -1
			}
		}
		h.skills = maps.Clone(cfg.Skills)
		for _, ch := range Channels {
			h.capacity[chIndex(ch)] = r.capacity(cfg, ch)
		}
		if o := h.offer; o != nil && !stillFits(h, o.it) {
			r.withdraw(o, "profile changed")
		}
		r.touch(h)
		return nil
	})
}

// stillFits reports whether h's changed profile still allows its pending
// offer of it: room for the channel, and a queue of the item (or the item
// waits for h alone).
func stillFits(h *helper, it *item) bool {
	i := chIndex(it.Channel)
	if h.load[i] >= h.capacity[i] {
		return false
	}
	if it.stickyTo == h {
		return true
	}
	for _, q := range it.queues() {
		if containsQueue(h.queues, q) {
			return true
		}
	}
	return false
}

func (r *Router) checkHelper(cfg HelperConfig) ([]*queue, error) {
	if cfg.ID == 0 {
		return nil, fmt.Errorf("set helper: id 0: %w", ErrInvalid)
	}
	var qs []*queue
	for _, name := range cfg.Queues {
		q := r.queues[name]
		if q == nil {
			return nil, fmt.Errorf("set helper %d: queue %q: %w", cfg.ID, name, ErrUnknownQueue)
		}
		if !containsQueue(qs, q) {
			qs = append(qs, q)
		}
	}
	for ch, n := range cfg.Capacity {
		if !ch.Valid() || n < 0 {
			return nil, fmt.Errorf("set helper %d: capacity %q %d: %w", cfg.ID, ch, n, ErrInvalid)
		}
	}
	for s, l := range cfg.Skills {
		if s == "" || l < 0 {
			return nil, fmt.Errorf("set helper %d: skill %q level %d: %w", cfg.ID, s, l, ErrInvalid)
		}
	}
	return qs, nil
}

func containsQueue(qs []*queue, q *queue) bool {
	for _, x := range qs {
		if x == q {
			return true
		}
	}
	return false
}

func (r *Router) capacity(cfg HelperConfig, ch Channel) int {
	if n, ok := cfg.Capacity[ch]; ok {
		return n
	}
	if n, ok := r.cfg.Capacity[ch]; ok {
		return n
	}
	return DefaultCapacity[ch]
}

// SetStatus changes a helper's presence. Going away or offline withdraws a
// pending offer (no RONA); going offline also frees the items waiting for
// this helper alone. Items being worked on stay with the helper. Coming
// back available clears the missed-offers count.
func (r *Router) SetStatus(helperID int64, s Status, reason string) ([]Event, error) {
	return r.do(func() error {
		if !s.Valid() {
			return fmt.Errorf("set status helper %d: status %q: %w", helperID, s, ErrInvalid)
		}
		h, err := r.helper("set status", helperID)
		if err != nil {
			return err
		}
		r.setStatus(h, s, reason)
		return nil
	})
}

func (r *Router) setStatus(h *helper, s Status, reason string) {
	old := h.status
	if s != StatusAway {
		reason = ""
	}
	if old == s && reason == h.reason {
		return
	}
	h.status, h.reason = s, reason
	if h.offer != nil && s != StatusAvailable {
		r.withdraw(h.offer, "helper "+string(s))
	}
	var t EventType
	switch s {
	case StatusOffline:
		for len(h.sticky.es) > 0 {
			r.unstick(h.sticky.es[0].it)
		}
		defer r.noHelpersLeft(h)
		t = EventLoggedOut
	case StatusAway:
		t = EventPaused
	case StatusAvailable:
		h.missed = 0
		t = EventResumed
		if old == StatusOffline {
			h.lastIdle = r.now
			t = EventLoggedIn
		}
	}
	r.emit(Event{Type: t, HelperID: h.id, Reason: reason})
	r.log.Debug("helper status", "helper", h.id, "status", s, "reason", reason)
	r.touch(h)
}

// noHelpersLeft tells the waiting items of h's NoHelpersReject queues that
// no helper is logged in any more, so their channels can fall back as they
// would have at Enqueue. The items stay queued.
func (r *Router) noHelpersLeft(h *helper) {
	for _, q := range h.queues {
		if q.cfg.NoHelpers != NoHelpersReject || q.loggedIn() > 0 {
			continue
		}
		for _, it := range q.waitingByID() {
			r.emit(r.itemEvent(EventNoHelpers, it, nil))
		}
	}
}

// EndWrapUp ends a helper's wrap-up early, when they finish their
// after-work before its time. It is a no-op without a wrap-up.
func (r *Router) EndWrapUp(helperID int64) ([]Event, error) {
	return r.do(func() error {
		h, err := r.helper("end wrap-up", helperID)
		if err != nil {
			return err
		}
		if h.wrap != nil {
			r.endWrapUp(h)
		}
		return nil
	})
}

// ResetCounters zeroes the counters of a helper, or of all helpers when
// helperID is 0 (at the start of a day, for least-busy routing).
func (r *Router) ResetCounters(helperID int64) error {
	_, err := r.do(func() error {
		if helperID == 0 {
			for _, h := range r.helpers {
				h.counters = Counters{}
			}
			return nil
		}
		h, err := r.helper("reset counters", helperID)
		if err != nil {
			return err
		}
		h.counters = Counters{}
		return nil
	})
	return err
}
