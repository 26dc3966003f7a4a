package media

import (
	"runtime"
	"sync"
	"time"
)

// Pacer sends the 20 ms frames of many legs from a few goroutines (one
// per CPU) instead of a timer and a goroutine per leg: with thousands of
// callers on hold music this saves the wake-ups and keeps each stream's
// spacing steady.
//
// Each shard divides the 20 ms frame into pacerSlots slots on a fixed
// grid and gives each leg one slot, the same every frame, so a leg's
// packets keep their phase and a slot's burst of sends is a small share
// of the shard's legs. Legs fill slots of slotTarget legs first, in an
// order that spreads the slots in use over the frame, and only when all
// are that full does the shard even them out: a shard with few legs
// wakes for few slots, as a wake-up costs about as much CPU as five
// sends.
//
// A shard sleeps until its next slot with a leg in it (on Linux on a
// timerfd, see slotClock). One that wakes late sends the slots that fell
// due, in order, and is back on the grid for the next, so a late wake-up
// delays only the packets of the slots it overran and no stream falls
// behind its own clock. The shards' grids are offset from each other, so
// their bursts take turns rather than meeting. Legs join a shard while
// they play and leave it when they stop.
//
// A Pacer is safe for concurrent use; Close stops it and is idempotent.
type Pacer struct {
	shards []*pacerShard
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup

	mu   sync.Mutex
	next int // guarded by mu: the shard the next leg joins
}

// pacerSlots is how many slots a shard divides a frame into;
// FrameDuration must divide by it.
const pacerSlots = 20

// slotDuration is the time from one of a shard's slots to the next.
const slotDuration = FrameDuration / pacerSlots

// slotTarget is how many legs a slot takes before legs join the next
// slot in slotOrder: about 0.2 ms of sends on loopback.
const slotTarget = 32

// slotOrder is the order legs fill a shard's slots in: each next slot as
// far as it can be from those before it, so the wake-ups of a shard with
// few slots in use are spread over the frame (0, 10, 5, 15, ...).
var slotOrder = spreadOrder(pacerSlots)

// spreadOrder returns 0 to n-1, each next one the farthest (around the
// circle of n) from the ones before it, the lowest of equals.
func spreadOrder(n int) []int {
	order := []int{0}
	used := make([]bool, n)
	used[0] = true
	for len(order) < n {
		best, bestGap := -1, -1
		for i := range n {
			if used[i] {
				continue
			}
			gap := n
			for _, j := range order {
				d := (i - j + n) % n
				gap = min(gap, d, n-d)
			}
			if gap > bestGap {
				best, bestGap = i, gap
			}
		}
		order = append(order, best)
		used[best] = true
	}
	return order
}

type pacerShard struct {
	wake   chan struct{}
	clock  *slotClock
	origin time.Time // when slot 0 of the shard's grid began: slot k begins at origin + k·slotDuration

	mu    sync.Mutex
	slots [pacerSlots][]*Leg // guarded by mu: legs playing, by slot, each in a stable order
	n     int                // guarded by mu: legs in all slots
}

// NewPacer starts a pacer with one shard per CPU (GOMAXPROCS).
func NewPacer() *Pacer {
	p := &Pacer{done: make(chan struct{})}
	n := runtime.GOMAXPROCS(0)
	start := time.Now()
	for i := range n {
		s := &pacerShard{
			wake:   make(chan struct{}, 1),
			clock:  newSlotClock(),
			origin: start.Add(time.Duration(i) * slotDuration / time.Duration(n)),
		}
		p.shards = append(p.shards, s)
		p.wg.Add(1)
		go p.run(s)
	}
	return p
}

// Close stops the pacer's goroutines and waits for them. Legs still
// playing stop sending.
func (p *Pacer) Close() {
	p.once.Do(func() {
		close(p.done)
		for _, s := range p.shards {
			s.clock.close()
		}
		p.wg.Wait()
	})
}

// shardFor assigns a leg to a shard, round robin.
func (p *Pacer) shardFor() *pacerShard {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.shards[p.next%len(p.shards)]
	p.next++
	return s
}

// add makes l tick in s from its slot's next turn on; adding twice is
// harmless.
func (s *pacerShard) add(l *Leg) {
	s.mu.Lock()
	if !l.paced {
		l.paced = true
		l.catchUp(time.Now())
		g := s.join()
		l.slot = g
		s.slots[g] = append(s.slots[g], l)
		s.n++
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// join returns the slot a joining leg takes: the first in slotOrder with
// fewer than slotTarget legs, or when all have that many the one with
// the fewest, the first such in slotOrder; mu must be held.
func (s *pacerShard) join() int {
	best := slotOrder[0]
	for _, g := range slotOrder {
		if len(s.slots[g]) < slotTarget {
			return g
		}
		if len(s.slots[g]) < len(s.slots[best]) {
			best = g
		}
	}
	return best
}

// pacerWork is a shard goroutine's reusable buffers, so that a slot's
// sends allocate nothing.
type pacerWork struct {
	frame   []int16
	payload []byte
	batch   []*Leg
}

// run sleeps while the shard has no legs and paces them while it has.
func (p *Pacer) run(s *pacerShard) {
	defer p.wg.Done()
	w := &pacerWork{frame: make([]int16, FrameSamples), payload: make([]byte, 0, FrameSamples)}
	for {
		select {
		case <-p.done:
			return
		case <-s.wake:
		}
		if !p.pace(s, w) {
			return
		}
	}
}

// pace sends the shard's slots as they fall due until it has no legs left
// (true) or the pacer closes (false).
func (p *Pacer) pace(s *pacerShard, w *pacerWork) bool {
	k := s.slotAt(time.Now())
	for {
		var ok bool
		if k, ok = s.nextBusy(k); !ok {
			return true
		}
		if !s.clock.sleepUntil(s.slotTime(k), p.done) {
			return false
		}
		from, last := dueSlots(k, s.slotAt(time.Now()))
		if from > last {
			continue // woke before the slot began
		}
		s.skip(k, from)
		for k = from; k <= last; k++ {
			s.send(int(k%pacerSlots), w)
		}
	}
}

// dueSlots returns the slots to send, from through last, when the shard
// wakes for slot next at a time that falls in slot now. A shard that
// overslept by more than a frame sends each slot once, the last frame's
// worth, so every leg gets one frame rather than a backlog of them.
func dueSlots(next, now int64) (from, last int64) {
	if now-next >= pacerSlots {
		return now - pacerSlots + 1, now
	}
	return next, now
}

// skip moves on the stream clocks of the legs whose turns in slots from
// through to-1 were not sent (the shard overslept by more than a frame),
// each by the frames it missed, so their timestamps do not fall behind.
func (s *pacerShard) skip(from, to int64) {
	if from >= to {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for g, legs := range s.slots {
		if n := turns(from, to, g); n > 0 {
			for _, l := range legs {
				l.skipFrames(n)
			}
		}
	}
}

// turns counts the slots k from through to-1 that are slot g of a frame
// (k % pacerSlots == g), for from <= to and 0 <= g < pacerSlots.
func turns(from, to int64, g int) int64 {
	below := func(k int64) int64 { // slots k' < k of slot g, from 0
		return floorDiv(k-int64(g)+pacerSlots-1, pacerSlots)
	}
	return below(to) - below(from)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// slotAt is the slot of s's grid that t falls in.
func (s *pacerShard) slotAt(t time.Time) int64 {
	return int64(t.Sub(s.origin) / slotDuration)
}

// slotTime is when slot k of s's grid begins.
func (s *pacerShard) slotTime(k int64) time.Time {
	return s.origin.Add(time.Duration(k) * slotDuration)
}

// nextBusy returns the first slot from k on with a leg in it, false when
// the shard has none.
func (s *pacerShard) nextBusy(k int64) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return 0, false
	}
	for len(s.slots[k%pacerSlots]) == 0 {
		k++
	}
	return k, true
}

// send sends one frame of each leg in the slot and lets go of the legs
// that stopped playing.
func (s *pacerShard) send(slot int, w *pacerWork) {
	w.batch = s.snapshot(w.batch[:0], slot)
	for _, l := range w.batch {
		if !l.tick(w.frame, w.payload) {
			s.remove(l)
		}
	}
	clear(w.batch) // holds no leg past its tick
}

func (s *pacerShard) snapshot(dst []*Leg, slot int) []*Leg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(dst, s.slots[slot]...)
}

// remove takes l out, keeping the others' order. A leg that started a new
// Play since its last tick stays.
func (s *pacerShard) remove(l *Leg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l.mu.Lock()
	playing := l.play != nil
	l.mu.Unlock()
	if playing {
		return
	}
	g := &s.slots[l.slot]
	for i, x := range *g {
		if x == l {
			*g = append((*g)[:i], (*g)[i+1:]...)
			s.n--
			l.paced = false
			return
		}
	}
}

func (s *pacerShard) empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n == 0
}
