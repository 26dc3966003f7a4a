package stats

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDayCountsRollOverAtMidnight(t *testing.T) {
	loc := time.FixedZone("MSK", 3*3600)
	d := NewDay(loc)
	eve := time.Date(2026, 12, 31, 23, 59, 0, 0, loc)
	d.Observe(KindOffered, eve)
	d.Observe(KindAnswered, eve)
	d.Observe(KindMissed, eve)
	d.Observe(KindAbandoned, eve)
	if diff := cmp.Diff(d.Today(eve), Counts{Offered: 1, Answered: 1, Missed: 1, Abandoned: 1}); diff != "" {
		t.Errorf("before midnight (-got +want):\n%s", diff)
	}
	newYear := eve.Add(2 * time.Minute)
	if got := d.Today(newYear); got != (Counts{}) {
		t.Errorf("after midnight with no events: got %+v, want zeros", got)
	}
	d.Observe(KindVoicemail, newYear)
	d.Observe(KindOffered, eve) // late event of the day before: not counted
	if diff := cmp.Diff(d.Today(newYear), Counts{Voicemail: 1}); diff != "" {
		t.Errorf("new day (-got +want):\n%s", diff)
	}
}
