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
// tick. Legs join a shard while they play and leave it when they stop.
// A Pacer is safe for concurrent use; Close stops it and is idempotent.
type Pacer struct {
	shards []*pacerShard
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup

	mu   sync.Mutex
	next int // guarded by mu: the shard the next leg joins
}

type pacerShard struct {
	wake chan struct{}

	mu   sync.Mutex
	legs []*Leg // guarded by mu: legs playing, in a stable order
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
		s.legs = append(s.legs, l)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run ticks while the shard has legs and sleeps while it has none.
func (p *Pacer) run(s *pacerShard) {
	defer p.wg.Done()
	frame := make([]int16, FrameSamples)
	payload := make([]byte, 0, FrameSamples)
	var batch []*Leg
	var ticker *time.Ticker
	var tick <-chan time.Time
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
				ticker = time.NewTicker(FrameDuration)
				tick = ticker.C
			}
		case <-tick:
			batch = s.snapshot(batch[:0])
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

func (s *pacerShard) snapshot(dst []*Leg) []*Leg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(dst, s.legs...)
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
	for i, x := range s.legs {
		if x == l {
			s.legs = append(s.legs[:i], s.legs[i+1:]...)
			l.paced = false
			return
		}
	}
}

func (s *pacerShard) empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.legs) == 0
}
