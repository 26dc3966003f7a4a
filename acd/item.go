package acd

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Item is a work item as a channel adapter hands it to the router.
type Item struct {
	// ID is the store's id of the item; it must not be 0.
	ID int64
	// Channel is how the request arrived.
	Channel Channel
	// Queue is the name of the queue it waits in.
	Queue string
	// Priority orders items after voice-first: higher goes first.
	Priority int
	// Created is when the request arrived; zero means now. It is never
	// changed, also not when a call becomes a callback item.
	Created time.Time
	// Skills are required: a helper needs each at least at its level.
	Skills []Skill
	// PreferredHelper, until PreferredUntil, is the only helper offered the
	// item (sticky routing to the contact's last helper). It is ignored
	// when the helper is offline; 0 means none.
	PreferredHelper int64
	PreferredUntil  time.Time
	// SLADue is when the item should be answered; zero takes the queue's
	// SLA from Created.
	SLADue time.Time
}

// Skill is a required skill and its minimum level (1 low to 10 high).
type Skill struct {
	Name  string
	Level int
}

// item is the router's state of one open item.
type item struct {
	Item
	created int64 // Created in Unix nanoseconds, for fast ordering
	live    bool  // Channel.Live(), for fast ordering

	state    State
	queue    *queue   // home queue
	extra    []*queue // queues added by escalation
	prio     int      // Priority plus escalation boosts
	req      []Skill  // effective requirements, sorted by name
	sig      string   // canonical form of req, the bucket key
	step     int      // escalation steps applied
	maxLevel int      // lowest MaxLevel applied, 0 for none
	noSkills bool     // DropSkills applied
	queuedAt time.Time

	entries  []*entry // heap memberships while waiting
	stickyTo *helper  // while set, waits on this helper's sticky heap
	offers   []*offer
	helper   *helper // the helper working on it (active, wrap-up)
	avoid    *helper // not offered to this helper until avoidTimer fires
	later    *timer  // while set, offered to nobody and in no heap (Postpone)

	escTimer, maxWaitTimer, stickyTimer, avoidTimer, noReplyTimer *timer

	acceptedAt, connectedAt, heldAt, completedAt time.Time
	hold                                         time.Duration
	outcome                                      Outcome
	dirty                                        bool // on the dispatch list
}

// waiting reports whether the item is in a queue: queued, or ringing in a
// ring-all queue.
func (it *item) waiting() bool {
	return it.state == StateQueued || (it.state == StateOffered && it.inHeap())
}

func (it *item) inHeap() bool { return len(it.entries) > 0 }

func (it *item) ringAll() bool { return it.queue.cfg.Strategy == RingAll }

// queues lists the queues whose helpers may take the item.
func (it *item) queues() []*queue {
	if len(it.extra) == 0 {
		return []*queue{it.queue}
	}
	return append([]*queue{it.queue}, it.extra...)
}

func (it *item) offerTo(h *helper) *offer {
	for _, o := range it.offers {
		if o.h == h {
			return o
		}
	}
	return nil
}

// ahead reports whether a goes before b for a helper who may take both:
// voice first, then priority, then age, then id.
func ahead(a, b *item) bool {
	if a.live != b.live {
		return a.live
	}
	if a.prio != b.prio {
		return a.prio > b.prio
	}
	if a.created != b.created {
		return a.created < b.created
	}
	return a.ID < b.ID
}

// recompute derives the effective requirements from the item's skills and
// the escalation steps applied.
func (it *item) recompute() {
	it.req = it.req[:0]
	if !it.noSkills {
		for _, s := range it.Skills {
			if it.maxLevel > 0 && s.Level > it.maxLevel {
				s.Level = it.maxLevel
			}
			it.req = append(it.req, s)
		}
	}
	slices.SortFunc(it.req, func(a, b Skill) int { return strings.Compare(a.Name, b.Name) })
	it.sig = skillSig(it.req)
}

func skillSig(req []Skill) string {
	if len(req) == 0 {
		return ""
	}
	var b strings.Builder
	for i, s := range req {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s.Name)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(s.Level))
	}
	return b.String()
}

// entry is an item's place in one heap.
type entry struct {
	it  *item
	hp  *itemHeap
	idx int
}

// itemHeap orders waiting items by ahead. It is a binary heap with each
// entry knowing its index, so any entry is removed in O(log n).
type itemHeap struct {
	es []*entry
}

func (hp *itemHeap) len() int { return len(hp.es) }

func (hp *itemHeap) top() *item { return hp.es[0].it }

func (hp *itemHeap) push(it *item) *entry {
	e := &entry{it: it, hp: hp, idx: len(hp.es)}
	hp.es = append(hp.es, e)
	hp.up(e.idx)
	return e
}

func (hp *itemHeap) remove(e *entry) {
	i, last := e.idx, len(hp.es)-1
	if i != last {
		hp.swap(i, last)
	}
	hp.es[last] = nil
	hp.es = hp.es[:last]
	if i != last {
		if !hp.down(i) {
			hp.up(i)
		}
	}
	e.idx = -1
}

func (hp *itemHeap) swap(i, j int) {
	hp.es[i], hp.es[j] = hp.es[j], hp.es[i]
	hp.es[i].idx = i
	hp.es[j].idx = j
}

func (hp *itemHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !ahead(hp.es[i].it, hp.es[p].it) {
			return
		}
		hp.swap(i, p)
		i = p
	}
}

func (hp *itemHeap) down(i int) bool {
	start, n := i, len(hp.es)
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && ahead(hp.es[r].it, hp.es[c].it) {
			c = r
		}
		if !ahead(hp.es[c].it, hp.es[i].it) {
			break
		}
		hp.swap(i, c)
		i = c
	}
	return i > start
}

// bestWithout returns the first item in heap order that ok accepts, by a
// linear scan; it serves the rare case where the top is not allowed.
func (hp *itemHeap) bestWithout(ok func(*item) bool) *item {
	var best *item
	for _, e := range hp.es {
		if ok(e.it) && (best == nil || ahead(e.it, best)) {
			best = e.it
		}
	}
	return best
}

// bucket holds the waiting items of one queue that share a channel and
// effective skill requirements, so a helper checks eligibility once per
// bucket and peeks at its best item.
type bucket struct {
	itemHeap
	q    *queue
	ch   Channel
	live bool
	sig  string
	req  []Skill
}

type bucketKey struct {
	ch  Channel
	sig string
}
