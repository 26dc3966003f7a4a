// Package stats turns what happens to work items into the numbers a
// supervisor watches: per-queue waiting and longest wait, helpers by status,
// and today's counts (offered, answered, missed, abandoned, voicemail, open
// callbacks, unanswered).
//
// It consumes events; it does not route and does not store. The owner feeds
// it the router's events (Observe) and reads snapshots (Today) from any
// goroutine.
package stats

import (
	"sync"
	"time"
)

// Live is the body of GET /api/v1/stats/live. Its JSON keys are part of the
// public API (DESIGN.md).
type Live struct {
	Queues  []QueueLive    `json:"queues"`
	Helpers map[string]int `json:"helpers"` // status to count: offline, available, away, busy
	Today   Counts         `json:"today"`
	At      time.Time      `json:"at"`
}

// QueueLive is one queue's present state.
type QueueLive struct {
	Name        string  `json:"name"`
	Waiting     int     `json:"waiting"`
	LongestWait float64 `json:"longest_wait"` // seconds the oldest waiting item has waited
}

// Counts are today's totals since local midnight.
type Counts struct {
	Offered       int `json:"offered"`        // offers made to helpers
	Answered      int `json:"answered"`       // items a helper accepted
	Missed        int `json:"missed"`         // calls that ended without a helper
	Abandoned     int `json:"abandoned"`      // callers who hung up while waiting
	Voicemail     int `json:"voicemail"`      // voicemails left
	OpenCallbacks int `json:"open_callbacks"` // callbacks not yet closed
	Unanswered    int `json:"unanswered"`     // open items with no personal answer yet
}

// Kind names what an observed event counts as.
type Kind int

// The kinds of observation.
const (
	KindOffered Kind = iota
	KindAnswered
	KindMissed
	KindAbandoned
	KindVoicemail
)

// Day keeps today's cumulative counts. It is safe for concurrent use.
type Day struct {
	loc *time.Location

	mu     sync.Mutex
	day    time.Time // local midnight the counts belong to; guarded by mu
	counts Counts    // guarded by mu
}

// NewDay returns counters for days in loc (time.Local when nil).
func NewDay(loc *time.Location) *Day {
	if loc == nil {
		loc = time.Local
	}
	return &Day{loc: loc}
}

// Observe counts one event of kind k that happened at t. Events of an
// earlier day are ignored; the first event of a new day starts from zero.
func (d *Day) Observe(k Kind, t time.Time) {
	day := midnight(t, d.loc)
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case day.Before(d.day):
		return
	case day.After(d.day):
		d.day, d.counts = day, Counts{}
	}
	switch k {
	case KindOffered:
		d.counts.Offered++
	case KindAnswered:
		d.counts.Answered++
	case KindMissed:
		d.counts.Missed++
	case KindAbandoned:
		d.counts.Abandoned++
	case KindVoicemail:
		d.counts.Voicemail++
	}
}

// Today returns the cumulative counts for the day of now. OpenCallbacks and
// Unanswered are levels, not totals: the caller fills them from the router.
func (d *Day) Today(now time.Time) Counts {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !midnight(now, d.loc).Equal(d.day) {
		return Counts{}
	}
	return d.counts
}

func midnight(t time.Time, loc *time.Location) time.Time {
	y, m, dd := t.In(loc).Date()
	return time.Date(y, m, dd, 0, 0, 0, 0, loc)
}
