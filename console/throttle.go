package console

import (
	"sync"
	"time"
)

// throttle runs f at most once per interval, some time after Kick, and
// never while closed. f runs on a timer's goroutine; close waits for it.
type throttle struct {
	every time.Duration
	f     func()

	mu     sync.Mutex
	timer  *time.Timer // guarded by mu; set while a run is scheduled
	last   time.Time   // guarded by mu; when f last started
	closed bool        // guarded by mu
	wg     sync.WaitGroup
	runMu  sync.Mutex // held while f runs: runs never overlap
}

func newThrottle(every time.Duration, f func()) *throttle {
	return &throttle{every: every, f: f}
}

// kick asks for a run of f: at once if the last one is an interval old,
// else when it will be.
func (t *throttle) kick() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || t.timer != nil {
		return
	}
	wait := max(t.every-time.Since(t.last), 0)
	t.wg.Add(1)
	t.timer = time.AfterFunc(wait, t.run)
}

func (t *throttle) run() {
	defer t.wg.Done()
	t.mu.Lock()
	t.timer = nil
	t.last = time.Now()
	closed := t.closed
	t.mu.Unlock()
	if !closed {
		t.runMu.Lock()
		defer t.runMu.Unlock()
		t.f()
	}
}

// close cancels a scheduled run and waits for one in progress. It is
// idempotent.
func (t *throttle) close() {
	t.mu.Lock()
	t.closed = true
	if t.timer != nil && t.timer.Stop() {
		t.timer = nil
		t.wg.Done()
	}
	t.mu.Unlock()
	t.wg.Wait()
}
