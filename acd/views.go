package acd

import (
	"fmt"
	"slices"
	"time"
)

// ItemInfo is a snapshot of an open item.
type ItemInfo struct {
	Item
	State       State
	Effective   int // Priority with escalation boosts
	QueuedAt    time.Time
	HelperID    int64   // the helper working on it, 0 when none
	OfferedTo   []int64 // helpers with a pending offer
	Escalations int     // steps applied
	StickyTo    int64   // the helper it waits for alone, 0 when none
}

// Item returns a snapshot of the open item id.
func (r *Router) Item(id int64) (ItemInfo, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	it := r.items[id]
	if it == nil {
		return ItemInfo{}, false
	}
	return it.info(), true
}

func (it *item) info() ItemInfo {
	ii := ItemInfo{
		Item: it.Item, State: it.state, Effective: it.prio, QueuedAt: it.queuedAt,
		Escalations: it.step,
	}
	ii.Queue = it.queue.cfg.Name
	ii.Skills = slices.Clone(it.Skills)
	if it.helper != nil {
		ii.HelperID = it.helper.id
	}
	if it.stickyTo != nil {
		ii.StickyTo = it.stickyTo.id
	}
	for _, o := range it.offers {
		ii.OfferedTo = append(ii.OfferedTo, o.h.id)
	}
	return ii
}

// Helper returns a snapshot of helper id.
func (r *Router) Helper(id int64) (HelperInfo, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.helpers[id]
	if h == nil {
		return HelperInfo{}, false
	}
	return h.info(), true
}

// Helpers returns snapshots of every helper, by id.
func (r *Router) Helpers() []HelperInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	hs := make([]HelperInfo, 0, len(r.helpers))
	for _, h := range r.helpers {
		hs = append(hs, h.info())
	}
	slices.SortFunc(hs, func(a, b HelperInfo) int { return cmpID(a.ID, b.ID) })
	return hs
}

// Estimate is a waiting item's place in its queue and its expected wait.
type Estimate struct {
	ItemID   int64
	Position int           // 1 is next
	Wait     time.Duration // expected time until a helper accepts it
	Known    bool          // false when the queue has no recent history
}

// Position returns the place and expected wait of a waiting item, counting
// the items of its queue that go before it (calls before letters, then
// priority, then age). The wait comes from the queue's recent answers.
func (r *Router) Position(itemID int64) (Estimate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	it := r.items[itemID]
	if it == nil {
		return Estimate{}, fmt.Errorf("position item %d: %w", itemID, ErrUnknownItem)
	}
	if it.state != StateQueued && it.state != StateOffered {
		return Estimate{}, fmt.Errorf("position item %d: %s: %w", itemID, it.state, ErrState)
	}
	pos := 1
	for _, x := range it.queue.wait {
		if x != it && x.Channel.Live() == it.Channel.Live() && ahead(x, it) {
			pos++
		}
	}
	return it.queue.estimate(it, pos), nil
}

func (q *queue) estimate(it *item, pos int) Estimate {
	w, ok := q.hist[histKind(it.Channel)].estimate(pos)
	return Estimate{ItemID: it.ID, Position: pos, Wait: w, Known: ok}
}

// Waiting returns the estimates of every waiting item of a queue in order:
// calls first (their positions count calls only), then the others.
func (r *Router) Waiting(queue string) ([]Estimate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.queues[queue]
	if q == nil {
		return nil, fmt.Errorf("waiting queue %q: %w", queue, ErrUnknownQueue)
	}
	its := make([]*item, 0, len(q.wait))
	for _, it := range q.wait {
		its = append(its, it)
	}
	slices.SortFunc(its, func(a, b *item) int {
		switch {
		case ahead(a, b):
			return -1
		case ahead(b, a):
			return 1
		}
		return 0
	})
	out := make([]Estimate, 0, len(its))
	pos, live := 0, true
	for _, it := range its {
		if it.Channel.Live() != live {
			pos, live = 0, false
		}
		pos++
		out = append(out, q.estimate(it, pos))
	}
	return out, nil
}

// QueueInfo is a snapshot of a queue for the wallboard.
type QueueInfo struct {
	Name     string
	Open     bool
	Waiting  int
	Oldest   time.Time // created time of the oldest waiting item
	LoggedIn int       // members not offline
	Free     int       // members who could take an offer now
}

// Queues returns snapshots of every queue, by name.
func (r *Router) Queues() []QueueInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]QueueInfo, 0, len(r.queues))
	for _, q := range r.queues {
		qi := QueueInfo{
			Name: q.cfg.Name, Open: q.open, Waiting: len(q.wait),
			LoggedIn: q.loggedIn(),
		}
		for _, h := range q.members {
			if h.canOffer() {
				qi.Free++
			}
		}
		for _, it := range q.wait {
			if qi.Oldest.IsZero() || it.Created.Before(qi.Oldest) {
				qi.Oldest = it.Created
			}
		}
		out = append(out, qi)
	}
	slices.SortFunc(out, func(a, b QueueInfo) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// Open reports whether a queue is within its business hours now; an unknown
// queue is closed.
func (r *Router) Open(queue string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.queues[queue]
	return q != nil && q.cfg.Hours.Open(r.clock.Now())
}
