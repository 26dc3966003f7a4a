package acd

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Router owns every item, helper, offer and queue and decides who gets what.
// All its methods are safe for concurrent use; see the package doc for how
// events reach their consumers.
type Router struct {
	// Set by New and never changed.
	clock    Clock
	sink     Sink
	log      *slog.Logger
	cfg      Config
	inflight sync.WaitGroup // operations delivering events; Close waits

	// Everything below is guarded by mu, as are the items, helpers, offers,
	// queues and timers they point to.
	mu         sync.Mutex
	closed     bool                      // guarded by mu
	now        time.Time                 // guarded by mu; the time of the running operation
	items      map[int64]*item           // guarded by mu; open items
	helpers    map[int64]*helper         // guarded by mu
	queues     map[string]*queue         // guarded by mu
	subs       map[int64][]*Subscription // guarded by mu
	seq        uint64                    // guarded by mu; last event Seq
	cur        []Event                   // guarded by mu; events of the running operation, owned by its caller
	outbox     []Event                   // guarded by mu; events not yet given to the sink
	delivering bool                      // guarded by mu; a goroutine is draining outbox
	dirtyH     []*helper                 // guarded by mu; helpers to find an item for
	dirtyI     []*item                   // guarded by mu; items to find a helper for
	scratch    []*helper                 // guarded by mu; reused candidate list
	markGen    uint64                    // guarded by mu
	timers     timerHeap                 // guarded by mu
	timerSeq   uint64                    // guarded by mu
	wake       Stopper                   // guarded by mu; the armed clock timer
	wakeAt     time.Time                 // guarded by mu
	wakeGen    uint64                    // guarded by mu
	rand       *rand.Rand                // guarded by mu
}

// New returns a router with cfg's queues and no helpers or items. It starts
// no goroutine: timers run on the Clock's callbacks.
func New(cfg Config) (*Router, error) {
	if err := cfg.normalize(); err != nil {
		return nil, fmt.Errorf("new router: %w", err)
	}
	r := &Router{
		clock: cfg.Clock, sink: cfg.Sink, log: cfg.Logger, cfg: cfg, rand: cfg.Rand,
		items: map[int64]*item{}, helpers: map[int64]*helper{},
		queues: map[string]*queue{}, subs: map[int64][]*Subscription{},
	}
	for _, qc := range cfg.Queues {
		if _, err := r.SetQueue(qc); err != nil {
			return nil, fmt.Errorf("new router: %w", err)
		}
	}
	return r, nil
}

// Close stops the router's timers, ends every subscription with ErrClosed
// and waits for event deliveries in flight. Later calls fail with
// ErrClosed. Close is idempotent; it must not be called from a Sink.
func (r *Router) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	if r.wake != nil {
		r.wake.Stop()
		r.wake = nil
	}
	subs := r.subs
	r.subs = nil
	r.mu.Unlock()
	for _, ss := range subs {
		for _, s := range ss {
			s.end(ErrClosed)
		}
	}
	r.inflight.Wait()
	return nil
}

// do runs f as one operation under the lock: f checks its arguments before
// it changes anything, then the router dispatches, arms its timer and hands
// the events to the sink. It returns the events of the operation.
func (r *Router) do(f func() error) ([]Event, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	r.now = r.clock.Now()
	r.cur = make([]Event, 0, 4) // handed to the caller, never reused
	err := f()
	r.dispatchLocked()
	r.armLocked()
	evs := r.cur
	r.cur = nil
	if len(evs) == 0 {
		evs = nil
	} else if r.sink != nil {
		r.outbox = append(r.outbox, evs...)
	}
	r.inflight.Add(1)
	r.mu.Unlock()
	defer r.inflight.Done()
	r.flush()
	return evs, err
}

// flush gives the outbox to the sink in order. Only one goroutine delivers
// at a time; one that finds another delivering leaves its events to it. A
// panicking sink loses its batch but does not stop later deliveries.
func (r *Router) flush() {
	if r.sink == nil {
		return
	}
	r.mu.Lock()
	if r.delivering {
		r.mu.Unlock()
		return
	}
	r.delivering = true
	defer func() {
		r.delivering = false
		r.mu.Unlock()
	}()
	for len(r.outbox) > 0 {
		batch := r.outbox
		r.outbox = nil
		r.mu.Unlock()
		r.deliver(batch)
		r.mu.Lock()
	}
}

// deliver hands a batch to the sink with the lock released; if the sink
// panics it retakes the lock so flush's deferred reset holds it as usual.
func (r *Router) deliver(batch []Event) {
	ok := false
	defer func() {
		if !ok {
			r.mu.Lock()
		}
	}()
	for _, e := range batch {
		r.sink.Emit(e)
	}
	ok = true
}

// Subscribe returns a subscription to the events of item id from now on.
// The item need not exist yet: a voice flow subscribes before Enqueue so it
// misses no offer.
func (r *Router) Subscribe(id int64) *Subscription {
	s := &Subscription{r: r, itemID: id, notify: make(chan struct{}, 1)}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		s.done = ErrClosed
		return s
	}
	r.subs[id] = append(r.subs[id], s)
	return s
}

func (r *Router) unsubscribe(s *Subscription) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ss := r.subs[s.itemID]
	if i := slices.Index(ss, s); i >= 0 {
		ss = slices.Delete(ss, i, i+1)
	}
	if len(ss) == 0 {
		delete(r.subs, s.itemID)
	} else {
		r.subs[s.itemID] = ss
	}
}

// emit records an event of the running operation.
func (r *Router) emit(e Event) {
	r.seq++
	e.Seq, e.At = r.seq, r.now
	r.cur = append(r.cur, e)
	if e.ItemID != 0 {
		for _, s := range r.subs[e.ItemID] {
			s.push(e)
		}
		if e.Type == EventClosed {
			delete(r.subs, e.ItemID)
		}
	}
}

// itemEvent fills an event's item fields.
func (r *Router) itemEvent(t EventType, it *item, h *helper) Event {
	e := Event{
		Type: t, ItemID: it.ID, Queue: it.queue.cfg.Name, Channel: it.Channel,
		State: it.state, Created: it.Created, QueuedAt: it.queuedAt,
	}
	if h != nil {
		e.HelperID = h.id
	}
	return e
}

// markItem puts it on the dispatch list.
func (r *Router) markItem(it *item) {
	if !it.dirty {
		it.dirty = true
		r.dirtyI = append(r.dirtyI, it)
	}
}

func (r *Router) markHelper(h *helper) {
	if !h.dirty {
		h.dirty = true
		r.dirtyH = append(r.dirtyH, h)
	}
}

// touch recomputes h's membership of its queues' idle and voice sets after
// any change, and puts it on the dispatch list when it could take more.
func (r *Router) touch(h *helper) {
	idle, voice := h.canOffer(), h.voiceReady()
	var mask uint8
	if idle {
		for i := 1; i < numChannels; i++ {
			if h.canTake(Channels[i]) {
				mask |= 1 << i
			}
		}
	}
	if changed := mask ^ h.idleMask; changed != 0 {
		for i := 1; i < numChannels; i++ {
			if changed&(1<<i) == 0 {
				continue
			}
			for qi, q := range h.queues {
				if mask&(1<<i) != 0 {
					q.idle[i].add(h, &h.slots[qi][i])
				} else {
					q.idle[i].remove(&h.slots[qi][i])
				}
			}
		}
		h.idleMask = mask
	}
	if voice != h.inVoice {
		for qi, q := range h.queues {
			if voice {
				q.voice.add(h, &h.slots[qi][0])
			} else {
				q.voice.remove(&h.slots[qi][0])
			}
		}
		h.inVoice = voice
	}
	if idle || (voice && h.offer != nil) {
		r.markHelper(h)
	}
}

// unindex takes h out of every set of its queues.
func (r *Router) unindex(h *helper) {
	for qi, q := range h.queues {
		for i := 1; i < numChannels; i++ {
			q.idle[i].remove(&h.slots[qi][i])
		}
		q.voice.remove(&h.slots[qi][0])
		delete(q.members, h.id)
	}
	h.idleMask, h.inVoice = 0, false
}

// heapIn puts a waiting item where helpers look for it: the sticky heap of
// its preferred helper, or a bucket of each of its queues.
func (r *Router) heapIn(it *item) {
	if it.inHeap() || it.later != nil {
		return
	}
	if it.stickyTo != nil {
		it.entries = append(it.entries, it.stickyTo.sticky.push(it))
		return
	}
	for _, q := range it.queues() {
		b := q.bucket(it.Channel, it.sig, it.req)
		it.entries = append(it.entries, b.push(it))
	}
}

// heapOut takes an item out of every heap.
func (r *Router) heapOut(it *item) {
	for _, e := range it.entries {
		e.hp.remove(e)
	}
	it.entries = it.entries[:0]
}

// rebucket moves a waiting item to the heaps its current fields call for.
func (r *Router) rebucket(it *item) {
	if it.inHeap() {
		r.heapOut(it)
		r.heapIn(it)
	}
}

func (r *Router) item(op string, id int64) (*item, error) {
	it := r.items[id]
	if it == nil {
		return nil, fmt.Errorf("%s item %d: %w", op, id, ErrUnknownItem)
	}
	return it, nil
}

func (r *Router) helper(op string, id int64) (*helper, error) {
	h := r.helpers[id]
	if h == nil {
		return nil, fmt.Errorf("%s helper %d: %w", op, id, ErrUnknownHelper)
	}
	return h, nil
}
