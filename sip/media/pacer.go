package media

import (
	"runtime"
	"sync"
	"time"
)

// Pacer sends the 20 ms frames of many legs from a few goroutines (one
// per CPU) instead of a timer and a goroutine per leg: with thousands of
// callers on hold music this saves the wake-ups and keeps each stream's
// spacing steady, since a shard walks its legs in the same order every
// tick. Each shard splits its legs into pacerSlots groups, one sent every
// 20 ms / pacerSlots, so a tick's burst of sends is a quarter of the legs
// rather than all of them: the burst's length, and what a late or
// interrupted tick does to the streams sent last in it, shrink with it.
// Legs join a shard while they play and leave it when they stop.
// A Pacer is safe for concurrent use; Close stops it and is idempotent.
type Pacer struct {
	shards []*pacerShard
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup

	mu   sync.Mutex
	next int // guarded by mu: the shard the next leg joins
}

// pacerSlots is how many groups a shard's legs are sent in, one group a
// tick; FrameDuration must divide by it.
const pacerSlots = 4

type pacerShard struct {
	wake chan struct{}

	mu    sync.Mutex
	slots [pacerSlots][]*Leg // guarded by mu: legs playing, by group, each in a stable order
	next  int                // guarded by mu: the group the next leg joins
	n     int                // guarded by mu: legs in all groups
}

// NewPacer starts a pacer with one shard per CPU (GOMAXPROCS).
func NewPacer() *Pacer {
	p := &Pacer{done: make(chan struct{})}
	for range runtime.GOMAXPROCS(0) {
		s := &pacerShard{wake: make(chan struct{}, 1)}
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

// add makes l tick in s from the next 20 ms on; adding twice is harmless.
func (s *pacerShard) add(l *Leg) {
	s.mu.Lock()
	if !l.paced {
		l.paced = true
		l.catchUp(time.Now())
		g := s.smallest()
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

// smallest returns the group with the fewest legs, the first such from
// next on, so groups stay even as legs come and go; mu must be held.
func (s *pacerShard) smallest() int {
	best := s.next % pacerSlots
	for i := range pacerSlots {
		g := (s.next + i) % pacerSlots
		if len(s.slots[g]) < len(s.slots[best]) {
			best = g
		}
	}
	s.next = best + 1
	return best
}

// run ticks while the shard has legs and sleeps while it has none; each
// tick sends one group's frames, the groups in turn.
func (p *Pacer) run(s *pacerShard) {
	defer p.wg.Done()
	frame := make([]int16, FrameSamples)
	payload := make([]byte, 0, FrameSamples)
	var batch []*Leg
	var ticker *time.Ticker
	var tick <-chan time.Time
	var group int
	defer func() {
		if ticker != nil {
			ticker.Stop()
		}
	}()
	for {
		select {
		case <-p.done:
			return
		case <-s.wake:
			if ticker == nil {
				ticker = time.NewTicker(FrameDuration / pacerSlots)
				tick = ticker.C
			}
		case <-tick:
			batch = s.snapshot(batch[:0], group)
			group = (group + 1) % pacerSlots
			for _, l := range batch {
				if !l.tick(frame, payload) {
					s.remove(l)
				}
			}
			if s.empty() {
				ticker.Stop()
				ticker, tick = nil, nil
			}
		}
	}
}

func (s *pacerShard) snapshot(dst []*Leg, group int) []*Leg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(dst, s.slots[group]...)
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
