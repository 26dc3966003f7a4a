package acd_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/acd/acdtest"
)

// fixture is a router with a recording sink. Tests that use timers run in
// a testing/synctest bubble, where time.Sleep advances the fake clock.
type fixture struct {
	t   *testing.T
	r   *acd.Router
	rec *acdtest.Recorder
}

func newFixture(t *testing.T, cfg acd.Config) *fixture {
	t.Helper()
	rec := &acdtest.Recorder{}
	cfg.Sink = rec
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(1, 2))
	}
	r, err := acd.New(cfg)
	if err != nil {
		t.Fatalf("new router: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return &fixture{t: t, r: r, rec: rec}
}

// queues returns a config with one queue per name and default settings.
func queues(names ...string) acd.Config {
	var cfg acd.Config
	for _, n := range names {
		cfg.Queues = append(cfg.Queues, acd.QueueConfig{Name: n})
	}
	return cfg
}

func (f *fixture) must(evs []acd.Event, err error) []acd.Event {
	f.t.Helper()
	if err != nil {
		f.t.Fatalf("unexpected error: %v", err)
	}
	return evs
}

// login adds an available helper with the given queues and skills.
func (f *fixture) login(id int64, qs []string, skills map[string]int) {
	f.t.Helper()
	f.must(f.r.SetHelper(acd.HelperConfig{ID: id, Queues: qs, Skills: skills}))
	f.must(f.r.SetStatus(id, acd.StatusAvailable, ""))
}

func (f *fixture) enqueue(it acd.Item) []acd.Event {
	f.t.Helper()
	return f.must(f.r.Enqueue(it))
}

// offeredTo returns the helpers the item is offered to now.
func (f *fixture) offeredTo(id int64) []int64 {
	f.t.Helper()
	info, ok := f.r.Item(id)
	if !ok {
		return nil
	}
	slices.Sort(info.OfferedTo)
	return info.OfferedTo
}

// wantOffer fails unless the item is offered to exactly the helper.
func (f *fixture) wantOffer(id, helper int64) {
	f.t.Helper()
	got := f.offeredTo(id)
	var want []int64
	if helper != 0 {
		want = []int64{helper}
	}
	if !slices.Equal(got, want) {
		f.t.Fatalf("item %d offered to %v, want %v", id, got, want)
	}
}

func (f *fixture) state(id int64) acd.State {
	f.t.Helper()
	info, ok := f.r.Item(id)
	if !ok {
		return acd.StateClosed
	}
	return info.State
}

// accept accepts the offer and fails the test on error.
func (f *fixture) accept(id, helper int64) {
	f.t.Helper()
	f.must(f.r.Accept(id, helper))
}

func (f *fixture) check() {
	f.t.Helper()
	if err := f.r.CheckInvariants(); err != nil {
		f.t.Fatalf("invariants: %v", err)
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
}

// at is a fixed instant for items' created times.
var epoch = time.Date(2026, 12, 20, 9, 0, 0, 0, time.UTC)
