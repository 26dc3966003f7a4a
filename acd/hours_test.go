package acd_test

import (
	"testing"
	"time"

	"github.com/morozhq/moroz/acd"
)

func TestHours(t *testing.T) {
	moscow := time.FixedZone("MSK", 3*3600)
	weekdays := []acd.Period{{From: 9 * time.Hour, To: 13 * time.Hour}, {From: 14 * time.Hour, To: 18 * time.Hour}}
	h := &acd.Hours{
		Location: moscow,
		Week: map[time.Weekday][]acd.Period{
			time.Monday: weekdays, time.Tuesday: weekdays, time.Wednesday: weekdays,
			time.Thursday: weekdays, time.Friday: weekdays,
			time.Saturday: {{From: 10 * time.Hour, To: 24 * time.Hour}},
			time.Sunday:   {{From: 0, To: 2 * time.Hour}},
		},
		Holidays: []acd.Date{{Year: 2026, Month: time.December, Day: 31}},
	}
	local := func(month time.Month, day, hour, min int) time.Time {
		return time.Date(2026, month, day, hour, min, 0, 0, moscow)
	}
	tests := []struct {
		name string
		at   time.Time
		open bool
		next time.Time
	}{
		{"monday morning", local(12, 21, 9, 0), true, local(12, 21, 13, 0)},
		{"before opening", local(12, 21, 8, 59), false, local(12, 21, 9, 0)},
		{"lunch break", local(12, 21, 13, 30), false, local(12, 21, 14, 0)},
		{"evening", local(12, 21, 18, 0), false, local(12, 22, 9, 0)},
		{"in utc", time.Date(2026, 12, 21, 6, 30, 0, 0, time.UTC), true, local(12, 21, 13, 0)},
		{"saturday to sunday night runs on", local(12, 26, 23, 0), true, local(12, 27, 2, 0)},
		{"holiday thursday", local(12, 31, 10, 0), false, local(1, 1, 9, 0).AddDate(1, 0, 0)},
		{"eve of the holiday", local(12, 30, 17, 0), true, local(12, 30, 18, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := h.Open(tt.at); got != tt.open {
				t.Errorf("Open(%v) = %v, want %v", tt.at, got, tt.open)
			}
			if got := h.NextChange(tt.at); !got.Equal(tt.next) {
				t.Errorf("NextChange(%v) = %v, want %v", tt.at, got, tt.next)
			}
		})
	}
}

func TestHoursEdgeCases(t *testing.T) {
	var always *acd.Hours
	if !always.Open(time.Now()) || !always.NextChange(time.Now()).IsZero() {
		t.Errorf("nil hours: want always open and no change")
	}
	never := &acd.Hours{}
	if never.Open(time.Now()) || !never.NextChange(time.Now()).IsZero() {
		t.Errorf("empty week: want always closed and no change")
	}
}
