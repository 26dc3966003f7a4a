package acd

import (
	"slices"
	"time"
)

// queue is the router's state of one queue.
type queue struct {
	cfg     QueueConfig
	buckets map[bucketKey]*bucket
	list    []*bucket // buckets in creation order, for deterministic scans
	members map[int64]*helper
	idle    [numChannels]helperSet // per letter channel: members that canOffer with room for it
	voice   helperSet              // members that are voiceReady
	wait    map[int64]*item
	open    bool
	hours   *timer
	rrLast  int64 // round-robin memory: the helper chosen last
	hist    [2]history
}

func newQueue(cfg QueueConfig, histSize int) *queue {
	return &queue{
		cfg:     cfg,
		buckets: map[bucketKey]*bucket{},
		members: map[int64]*helper{},
		wait:    map[int64]*item{},
		hist:    [2]history{{size: histSize}, {size: histSize}},
	}
}

// routable reports whether the queue's items may be offered now.
func (q *queue) routable() bool { return q.open || q.cfg.RouteClosed }

func (q *queue) bucket(ch Channel, sig string, req []Skill) *bucket {
	k := bucketKey{ch, sig}
	b := q.buckets[k]
	if b == nil {
		b = &bucket{q: q, ch: ch, live: ch.Live(), sig: sig, req: slices.Clone(req)}
		q.buckets[k] = b
		q.list = append(q.list, b)
	}
	return b
}

// waitingByID lists the waiting items in id order, so that decisions made
// in a loop over them do not depend on map order.
func (q *queue) waitingByID() []*item {
	its := make([]*item, 0, len(q.wait))
	for _, it := range q.wait {
		its = append(its, it)
	}
	slices.SortFunc(its, func(a, b *item) int { return cmpID(a.ID, b.ID) })
	return its
}

func (q *queue) loggedIn() int {
	n := 0
	for _, h := range q.members {
		if h.status != StatusOffline {
			n++
		}
	}
	return n
}

func (q *queue) offerTimeout(ch Channel, def map[Channel]time.Duration) time.Duration {
	if d, ok := q.cfg.OfferTimeout[ch]; ok {
		return d
	}
	if d, ok := def[ch]; ok {
		return d
	}
	if ch.Live() {
		return DefaultVoiceOfferTimeout
	}
	return DefaultLetterOfferTimeout
}

// history remembers the latest answers of a queue for one kind of channel
// (live or not), to estimate waits.
type history struct {
	size  int
	at    []time.Time     // answer times, oldest first
	waits []time.Duration // matching waits in the queue
}

func (h *history) add(at time.Time, wait time.Duration) {
	if len(h.at) == h.size {
		h.at = h.at[1:]
		h.waits = h.waits[1:]
	}
	h.at = append(h.at, at)
	h.waits = append(h.waits, wait)
}

// estimate returns the expected wait of the item at position pos (1 is
// next), from the recent rate of answers; with fewer than two answers it
// falls back to the mean recent wait. ok is false without any history.
func (h *history) estimate(pos int) (time.Duration, bool) {
	n := len(h.at)
	switch {
	case n == 0:
		return 0, false
	case n == 1:
		return h.waits[0], true
	}
	interval := h.at[n-1].Sub(h.at[0]) / time.Duration(n-1)
	if interval <= 0 {
		var sum time.Duration
		for _, w := range h.waits {
			sum += w
		}
		return sum / time.Duration(n), true
	}
	return interval * time.Duration(pos), true
}
