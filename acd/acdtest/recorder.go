// Package acdtest holds test helpers for packages that drive an acd.Router:
// a Recorder sink that keeps every event for assertions.
package acdtest

import (
	"sync"

	"github.com/morozhq/moroz/acd"
)

// Recorder is an acd.Sink that keeps every event it receives. It is safe
// for concurrent use.
type Recorder struct {
	mu     sync.Mutex
	events []acd.Event // guarded by mu
}

// Emit records e.
func (r *Recorder) Emit(e acd.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// Events returns a copy of every event recorded, in order.
func (r *Recorder) Events() []acd.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]acd.Event(nil), r.events...)
}

// Types returns the types of the events recorded for item id (0 selects
// the helper and queue events), in order.
func (r *Recorder) Types(id int64) []acd.EventType {
	var ts []acd.EventType
	for _, e := range r.Events() {
		if e.ItemID == id {
			ts = append(ts, e.Type)
		}
	}
	return ts
}

// Last returns the last event of type t, and whether there was one.
func (r *Recorder) Last(t acd.EventType) (acd.Event, bool) {
	es := r.Events()
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].Type == t {
			return es[i], true
		}
	}
	return acd.Event{}, false
}

// Reset forgets every event recorded.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.events = nil
	r.mu.Unlock()
}
