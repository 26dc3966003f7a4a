package acd_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/morozhq/moroz/acd"
)

// TestRandomised applies long seeded random sequences of operations and
// checks the router's promises after each: an item is offered to at most one
// helper (ring-all: exactly one accept wins), no capacity is exceeded, voice
// never waits behind a letter, no free helper leaves an item waiting,
// created times never change, and in the end every item is closed.
func TestRandomised(t *testing.T) {
	seeds, steps := 30, 1200
	if testing.Short() {
		seeds, steps = 8, 400
	}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t, seed)
				for step := range steps {
					w.step()
					// Timers already due (a restored item's escalation)
					// run at once in their own goroutine; let them finish.
					synctest.Wait()
					w.check(fmt.Sprintf("step %d", step))
				}
				w.drain()
			})
		})
	}
}

// history checks each item's event stream as the sink receives it.
type history struct {
	mu      sync.Mutex
	created map[int64]time.Time // guarded by mu
	open    map[int64]bool      // guarded by mu
	closed  map[int64]bool      // guarded by mu
	holder  map[int64]int64     // guarded by mu; the helper that accepted
	errs    []error             // guarded by mu
	last    uint64              // guarded by mu
}

func (h *history) Emit(e acd.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fail := func(format string, args ...any) {
		h.errs = append(h.errs, fmt.Errorf("event %d %s item %d: %s", e.Seq, e.Type, e.ItemID, fmt.Sprintf(format, args...)))
	}
	if e.Seq != h.last+1 {
		fail("after seq %d", h.last)
	}
	h.last = e.Seq
	if e.ItemID == 0 {
		return
	}
	if h.closed[e.ItemID] {
		fail("after the item closed")
	}
	if c, ok := h.created[e.ItemID]; ok && !c.Equal(e.Created) {
		fail("created %v, was %v", e.Created, c)
	}
	if e.Type != acd.EventEnqueued && !h.open[e.ItemID] {
		fail("for an item never enqueued")
	}
	switch e.Type {
	case acd.EventEnqueued:
		h.open[e.ItemID] = true
		h.holder[e.ItemID] = 0
		if _, ok := h.created[e.ItemID]; !ok {
			h.created[e.ItemID] = e.Created
		}
	case acd.EventAccepted:
		if prev := h.holder[e.ItemID]; prev != 0 {
			fail("accepted by %d while held by %d", e.HelperID, prev)
		}
		h.holder[e.ItemID] = e.HelperID
	case acd.EventClosed:
		delete(h.open, e.ItemID)
		h.closed[e.ItemID] = true
	}
}

func (h *history) openIDs() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ids []int64
	for id := range h.open {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

type world struct {
	t      *testing.T
	rnd    *rand.Rand
	r      *acd.Router
	hist   *history
	nextID int64
	hs     []int64
	cfg    acd.Config
	prof   map[int64]acd.HelperConfig // each helper's current profile
}

var worldQueues = []string{"a", "b", "c"}

func newWorld(t *testing.T, seed uint64) *world {
	rnd := rand.New(rand.NewPCG(seed, 99))
	strategies := []acd.Strategy{acd.LongestIdle, acd.RoundRobin, acd.LeastBusy, acd.BySkill, acd.Random, acd.RingAll}
	hist := &history{created: map[int64]time.Time{}, open: map[int64]bool{},
		closed: map[int64]bool{}, holder: map[int64]int64{}}
	cfg := acd.Config{
		Sink: hist, Rand: rand.New(rand.NewPCG(seed, 7)),
		Queues: []acd.QueueConfig{
			{Name: "a", Strategy: strategies[rnd.IntN(len(strategies))], NoHelpers: acd.NoHelpersReject},
			{Name: "b", Strategy: acd.RingAll, WrapUp: map[acd.Channel]time.Duration{acd.Voice: 10 * time.Second}},
			{
				Name: "c", Strategy: strategies[rnd.IntN(len(strategies))], MaxLength: 30, MaxWait: 3 * time.Minute,
				NoReply: map[acd.Channel]time.Duration{acd.Chat: time.Minute, acd.Email: 2 * time.Minute},
				WrapUp:  map[acd.Channel]time.Duration{acd.Email: 20 * time.Second},
				Escalation: []acd.EscalationStep{
					{After: 30 * time.Second, MaxLevel: 2},
					{After: 90 * time.Second, Queues: []string{"a", "b"}, PriorityBoost: 1},
					{After: 150 * time.Second, DropSkills: true},
				},
			},
		},
	}
	w := &world{t: t, rnd: rnd, hist: hist, cfg: cfg, prof: map[int64]acd.HelperConfig{}}
	w.start()
	for id := int64(1); id <= 6; id++ {
		w.hs = append(w.hs, id)
		w.profile(id)
	}
	return w
}

// start makes a new router from the world's configuration.
func (w *world) start() {
	r, err := acd.New(w.cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { r.Close() })
	w.r = r
}

// restart replaces the router by a new one rebuilt from the items' state,
// as the service layer does from the store after a crash.
func (w *world) restart() {
	var stored []acd.Stored
	for _, id := range w.hist.openIDs() {
		info, ok := w.r.Item(id)
		if !ok {
			w.t.Fatalf("restart: item %d unknown", id)
		}
		s := acd.Stored{Item: info.Item, State: info.State, HelperID: info.HelperID, QueuedAt: info.QueuedAt}
		if len(info.OfferedTo) > 0 {
			s.HelperID = info.OfferedTo[0]
		}
		stored = append(stored, s)
	}
	w.r.Close()
	w.hist.mu.Lock()
	w.hist.last = 0
	w.hist.mu.Unlock()
	w.start()
	for _, id := range w.hs {
		w.ok(errOf(w.r.SetHelper(w.prof[id])))
	}
	w.ok(errOf(w.r.Restore(stored)))
	for _, h := range w.r.Helpers() {
		if h.Status != acd.StatusOffline {
			w.t.Fatalf("restart: helper %d %s, want offline", h.ID, h.Status)
		}
	}
}

func (w *world) profile(id int64) {
	var qs []string
	for _, q := range worldQueues {
		if w.rnd.IntN(2) == 0 {
			qs = append(qs, q)
		}
	}
	cfg := acd.HelperConfig{ID: id, Queues: qs,
		Skills: map[string]int{"ru": w.rnd.IntN(5), "be": w.rnd.IntN(5)}}
	if w.rnd.IntN(3) == 0 {
		cfg.Capacity = map[acd.Channel]int{acd.Chat: w.rnd.IntN(4), acd.Email: w.rnd.IntN(3)}
	}
	w.ok(errOf(w.r.SetHelper(cfg)))
	w.prof[id] = cfg
}

func errOf(_ []acd.Event, err error) error { return err }

// ok fails on an error not in allowed.
func (w *world) ok(err error, allowed ...error) {
	w.t.Helper()
	if err == nil {
		return
	}
	for _, a := range allowed {
		if errors.Is(err, a) {
			return
		}
	}
	w.t.Fatalf("unexpected error: %v", err)
}

func (w *world) helper() int64 { return w.hs[w.rnd.IntN(len(w.hs))] }

func (w *world) openItem() (int64, bool) {
	ids := w.hist.openIDs()
	if len(ids) == 0 {
		return 0, false
	}
	return ids[w.rnd.IntN(len(ids))], true
}

func (w *world) info(id int64) acd.HelperInfo {
	info, _ := w.r.Helper(id)
	return info
}

func (w *world) step() {
	switch n := w.rnd.IntN(100); {
	case n < 20:
		w.enqueue()
	case n < 35:
		w.accept()
	case n < 40:
		if h := w.info(w.helper()); h.Offer != 0 {
			reason := []acd.RejectReason{acd.RejectDeclined, acd.RejectBusy}[w.rnd.IntN(2)]
			w.ok(errOf(w.r.Reject(h.Offer, h.ID, reason)))
		}
	case n < 50:
		if h := w.info(w.helper()); len(h.Active) > 0 {
			w.ok(errOf(w.r.Complete(h.Active[w.rnd.IntN(len(h.Active))], "")))
		}
	case n < 55:
		w.callControl()
	case n < 60:
		w.end()
	case n < 64:
		w.transfer()
	case n < 67:
		if id, ok := w.openItem(); ok {
			w.ok(errOf(w.r.Recall(id)), acd.ErrState)
		}
	case n < 75:
		st := []acd.Status{acd.StatusAvailable, acd.StatusAvailable, acd.StatusAway, acd.StatusOffline}
		w.ok(errOf(w.r.SetStatus(w.helper(), st[w.rnd.IntN(len(st))], "random")))
	case n < 77:
		w.profile(w.helper())
	case n < 79:
		w.ok(errOf(w.r.EndWrapUp(w.helper())))
	case n < 80:
		if w.rnd.IntN(5) == 0 {
			w.restart()
		} else {
			w.requeue()
		}
	default:
		advance(time.Duration(w.rnd.IntN(40_000)) * time.Millisecond)
	}
}

// requeue changes queue a's strategy, as a supervisor may at any time.
func (w *world) requeue() {
	strategies := []acd.Strategy{acd.LongestIdle, acd.RoundRobin, acd.RingAll, acd.Random}
	qc := w.cfg.Queues[0]
	qc.Strategy = strategies[w.rnd.IntN(len(strategies))]
	w.ok(errOf(w.r.SetQueue(qc)))
}

func (w *world) enqueue() {
	w.nextID++
	it := acd.Item{
		ID:       w.nextID,
		Channel:  acd.Channels[w.rnd.IntN(len(acd.Channels))],
		Queue:    worldQueues[w.rnd.IntN(len(worldQueues))],
		Priority: w.rnd.IntN(3),
		Created:  time.Now().Add(-time.Duration(w.rnd.IntN(600)) * time.Second),
	}
	for _, s := range []string{"ru", "be"} {
		if w.rnd.IntN(3) == 0 {
			it.Skills = append(it.Skills, acd.Skill{Name: s, Level: 1 + w.rnd.IntN(4)})
		}
	}
	if w.rnd.IntN(10) == 0 {
		it.PreferredHelper = w.helper()
		it.PreferredUntil = time.Now().Add(time.Duration(w.rnd.IntN(120)) * time.Second)
	}
	w.ok(errOf(w.r.Enqueue(it)), acd.ErrQueueFull, acd.ErrNoHelpers)
	if w.rnd.IntN(20) == 0 {
		_, err := w.r.Enqueue(it)
		if !errors.Is(err, acd.ErrDuplicate) && !errors.Is(err, acd.ErrQueueFull) && !errors.Is(err, acd.ErrNoHelpers) {
			w.t.Fatalf("second enqueue of %d: %v, want duplicate", it.ID, err)
		}
	}
}

func (w *world) accept() {
	h := w.info(w.helper())
	if h.Offer != 0 {
		w.ok(errOf(w.r.Accept(h.Offer, h.ID)))
		return
	}
	if id, ok := w.openItem(); ok {
		_, err := w.r.Accept(id, h.ID)
		if !errors.Is(err, acd.ErrNoOffer) {
			w.t.Fatalf("accept of %d by %d without an offer: %v", id, h.ID, err)
		}
	}
}

func (w *world) callControl() {
	id, ok := w.openItem()
	if !ok {
		return
	}
	switch w.rnd.IntN(4) {
	case 0:
		w.ok(errOf(w.r.Connected(id)), acd.ErrState)
	case 1:
		w.ok(errOf(w.r.Hold(id, true)), acd.ErrState)
	case 2:
		w.ok(errOf(w.r.Hold(id, false)), acd.ErrState)
	default:
		w.ok(errOf(w.r.Replied(id)), acd.ErrState)
	}
}

func (w *world) end() {
	id, ok := w.openItem()
	if !ok {
		return
	}
	if w.rnd.IntN(2) == 0 {
		w.ok(errOf(w.r.Abandon(id)), acd.ErrState)
		return
	}
	w.ok(errOf(w.r.Remove(id, acd.OutcomeSpam)), acd.ErrState)
}

func (w *world) transfer() {
	id, ok := w.openItem()
	if !ok {
		return
	}
	to := acd.Target{Queue: worldQueues[w.rnd.IntN(len(worldQueues))]}
	if w.rnd.IntN(3) == 0 {
		to.Helper = w.helper()
	}
	w.ok(errOf(w.r.Transfer(id, to)), acd.ErrState, acd.ErrQueueFull, acd.ErrUnavailable)
}

func (w *world) check(when string) {
	w.t.Helper()
	if err := w.r.CheckInvariants(); err != nil {
		w.t.Fatalf("%s: %v", when, err)
	}
	w.hist.mu.Lock()
	errs := errors.Join(w.hist.errs...)
	w.hist.mu.Unlock()
	if errs != nil {
		w.t.Fatalf("%s: %v", when, errs)
	}
	for _, id := range w.hist.openIDs() {
		info, ok := w.r.Item(id)
		if !ok {
			w.t.Fatalf("%s: item %d open in its history but unknown to the router", when, id)
		}
		w.hist.mu.Lock()
		created := w.hist.created[id]
		w.hist.mu.Unlock()
		if !info.Created.Equal(created) {
			w.t.Fatalf("%s: item %d created %v, was %v", when, id, info.Created, created)
		}
	}
}

// workOff has every helper come back, accept their offer and complete what
// they hold, and reports whether anyone did anything.
func (w *world) workOff() bool {
	busy := false
	for _, h := range w.r.Helpers() {
		w.ok(errOf(w.r.SetStatus(h.ID, acd.StatusAvailable, "")))
		if h.Offer != 0 {
			// A ring-all accept earlier in the loop may have withdrawn
			// this offer.
			w.ok(errOf(w.r.Accept(h.Offer, h.ID)), acd.ErrNoOffer)
			busy = true
		}
		for _, id := range h.Active {
			w.ok(errOf(w.r.Complete(id, "")))
			busy = true
		}
		w.ok(errOf(w.r.EndWrapUp(h.ID)))
	}
	return busy
}

// drain lets every helper work everything off and checks that every item
// enqueued reaches its end.
func (w *world) drain() {
	for _, id := range w.hs {
		w.ok(errOf(w.r.SetHelper(acd.HelperConfig{ID: id, Queues: worldQueues, Skills: map[string]int{"ru": 9, "be": 9}})))
		w.ok(errOf(w.r.SetStatus(id, acd.StatusAvailable, "")))
	}
	for round := 0; len(w.hist.openIDs()) > 0; round++ {
		if round == 100 {
			w.t.Fatalf("items never closed: %v", w.hist.openIDs())
		}
		for w.workOff() {
		}
		synctest.Wait()
		w.check(fmt.Sprintf("drain round %d", round))
		advance(time.Minute)
	}
	w.hist.mu.Lock()
	defer w.hist.mu.Unlock()
	if len(w.hist.closed) != len(w.hist.created) {
		w.t.Errorf("%d items closed of %d enqueued", len(w.hist.closed), len(w.hist.created))
	}
}
