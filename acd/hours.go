package acd

import (
	"fmt"
	"slices"
	"time"
)

// Hours are a queue's business hours: periods per weekday in a time zone,
// and holidays when the queue stays closed all day.
type Hours struct {
	// Location is the time zone the periods are written in; nil means UTC.
	Location *time.Location
	// Week holds the open periods of each weekday; a missing day is closed.
	Week map[time.Weekday][]Period
	// Holidays are local dates when the queue is closed.
	Holidays []Date
}

// Period is an open interval of a day, as wall-clock offsets from local
// midnight: open from From (inclusive) to To (exclusive). A period past
// midnight is written as two, one on each day.
type Period struct {
	From, To time.Duration
}

// Date is a local calendar date.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// horizon bounds the search for the next change of Hours: a queue closed
// for longer than this is treated as never opening again.
const horizon = 400

func (h *Hours) validate() error {
	for day, ps := range h.Week {
		for _, p := range ps {
			if p.From < 0 || p.To > 24*time.Hour || p.From >= p.To {
				return fmt.Errorf("hours: %v period %v-%v: %w", day, p.From, p.To, ErrInvalid)
			}
		}
	}
	for _, d := range h.Holidays {
		if d.Month < time.January || d.Month > time.December || d.Day < 1 || d.Day > 31 {
			return fmt.Errorf("hours: holiday %d-%d-%d: %w", d.Year, d.Month, d.Day, ErrInvalid)
		}
	}
	return nil
}

func (h *Hours) loc() *time.Location {
	if h.Location == nil {
		return time.UTC
	}
	return h.Location
}

// Open reports whether the queue is open at t. A nil Hours is always open.
func (h *Hours) Open(t time.Time) bool {
	if h == nil {
		return true
	}
	lt := t.In(h.loc())
	if h.holiday(lt) {
		return false
	}
	tod := time.Duration(lt.Hour())*time.Hour + time.Duration(lt.Minute())*time.Minute +
		time.Duration(lt.Second())*time.Second + time.Duration(lt.Nanosecond())
	for _, p := range h.Week[lt.Weekday()] {
		if p.From <= tod && tod < p.To {
			return true
		}
	}
	return false
}

func (h *Hours) holiday(lt time.Time) bool {
	y, m, d := lt.Date()
	return slices.Contains(h.Holidays, Date{y, m, d})
}

// NextChange returns the first instant after t when Open changes its answer,
// or the zero time when it does not change within about a year.
func (h *Hours) NextChange(t time.Time) time.Time {
	if h == nil {
		return time.Time{}
	}
	now := h.Open(t)
	lt := t.In(h.loc())
	for day := range horizon {
		for _, b := range h.boundaries(lt.AddDate(0, 0, day)) {
			if b.After(t) && h.Open(b) != now {
				return b
			}
		}
	}
	return time.Time{}
}

// boundaries lists, in order, the instants of day's local date where Open
// may change: midnight (holidays) and every period edge.
func (h *Hours) boundaries(day time.Time) []time.Time {
	y, m, d := day.Date()
	loc := h.loc()
	at := func(off time.Duration) time.Time {
		return time.Date(y, m, d, 0, 0, 0, int(off), loc)
	}
	bs := []time.Time{at(0)}
	for _, p := range h.Week[day.Weekday()] {
		bs = append(bs, at(p.From), at(p.To))
	}
	slices.SortFunc(bs, func(a, b time.Time) int { return a.Compare(b) })
	return bs
}
