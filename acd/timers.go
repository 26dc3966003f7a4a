package acd

import (
	"container/heap"
	"time"
)

// Clock is where the router gets the time and its one wake-up timer.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Stopper
}

// Stopper stops a timer made by Clock.AfterFunc; *time.Timer is one.
type Stopper interface {
	Stop() bool
}

// systemClock is the time package; testing/synctest fakes it in a bubble.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) Stopper { return time.AfterFunc(d, f) }

// timerKind says what a due timer does.
type timerKind uint8

const (
	tOffer    timerKind = iota // an offer's deadline
	tDelay                     // a helper's reject, busy or no-answer delay ends
	tWrapUp                    // a helper's wrap-up ends
	tNoReply                   // an accepted item is taken back
	tEscalate                  // an item's next escalation step
	tMaxWait                   // an item waited its queue's MaxWait
	tSticky                    // an item's preferred helper expires
	tAvoid                     // an item may go back to the helper it avoided
	tHours                     // a queue opens or closes
	tLater                     // a postponed item may be offered again
)

// timer is one scheduled action. The router keeps every timer in one heap
// and arms a single Clock timer for the earliest.
type timer struct {
	at   time.Time
	seq  uint64 // orders timers due at the same instant
	idx  int    // position in the heap, -1 when not scheduled
	kind timerKind
	it   *item
	h    *helper
	o    *offer
	q    *queue
}

type timerHeap []*timer

func (th timerHeap) Len() int { return len(th) }

func (th timerHeap) Less(i, j int) bool {
	if !th[i].at.Equal(th[j].at) {
		return th[i].at.Before(th[j].at)
	}
	return th[i].seq < th[j].seq
}

func (th timerHeap) Swap(i, j int) {
	th[i], th[j] = th[j], th[i]
	th[i].idx = i
	th[j].idx = j
}

func (th *timerHeap) Push(x any) {
	t := x.(*timer)
	t.idx = len(*th)
	*th = append(*th, t)
}

func (th *timerHeap) Pop() any {
	old := *th
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*th = old[:len(old)-1]
	t.idx = -1
	return t
}

// schedule adds a timer due at at. The caller keeps the pointer to cancel.
func (r *Router) schedule(at time.Time, t *timer) *timer {
	r.timerSeq++
	t.at, t.seq = at, r.timerSeq
	heap.Push(&r.timers, t)
	return t
}

// cancel removes t if it is scheduled; a nil t is fine.
func (r *Router) cancel(t *timer) {
	if t != nil && t.idx >= 0 {
		heap.Remove(&r.timers, t.idx)
	}
}

// armLocked makes sure the clock wakes the router by the earliest
// scheduled timer. A wake-up that is earlier than needed is kept rather than
// re-armed (it finds nothing due and arms the next), so the clock timer is
// touched only when a timer earlier than the armed one appears.
func (r *Router) armLocked() {
	if len(r.timers) == 0 {
		return
	}
	next := r.timers[0].at
	if r.wake != nil && !r.wakeAt.After(next) {
		return
	}
	if r.wake != nil {
		r.wake.Stop()
	}
	r.wakeAt = next
	r.wakeGen++
	gen := r.wakeGen
	r.wake = r.clock.AfterFunc(next.Sub(r.clock.Now()), func() { r.onWake(gen) })
}

// onWake runs every timer that is due, in order, as one operation. A wake-up
// of an earlier generation may still run after it was stopped; it then only
// runs what is due.
func (r *Router) onWake(gen uint64) {
	r.do(func() error {
		if gen == r.wakeGen {
			r.wake = nil
		}
		for len(r.timers) > 0 && !r.timers[0].at.After(r.now) {
			t := heap.Pop(&r.timers).(*timer)
			now := r.now
			r.now = t.at
			r.fire(t)
			r.dispatchLocked()
			r.now = now
		}
		return nil
	})
}

// fire runs one due timer.
func (r *Router) fire(t *timer) {
	switch t.kind {
	case tOffer:
		r.offerTimedOut(t.o)
	case tDelay:
		t.h.delay = nil
		r.touch(t.h)
	case tWrapUp:
		r.endWrapUp(t.h)
	case tNoReply:
		r.takeBack(t.it)
	case tEscalate:
		r.escalate(t.it)
	case tMaxWait:
		r.maxWaited(t.it)
	case tSticky:
		r.unstick(t.it)
	case tAvoid:
		t.it.avoid, t.it.avoidTimer = nil, nil
		r.markItem(t.it)
	case tHours:
		r.hoursChanged(t.q)
	case tLater:
		t.it.later = nil
		r.heapIn(t.it)
		r.markItem(t.it)
	}
}
