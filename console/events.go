package console

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/console/hub"
	"github.com/morozhq/moroz/store"
)

// boardEvery is the least time between two wallboard updates (at most two
// a second, however busy the router is), and between two counts of a queue.
const boardEvery = 500 * time.Millisecond

// tracker remembers what the router's events do not repeat: whose an item
// is, a pending offer's deadline, and since when a helper has had their
// status. It is safe for concurrent use.
type tracker struct {
	mu     sync.Mutex
	owner  map[int64]int64     // item to the helper offered or holding it; guarded by mu
	offers map[int64]acd.Event // helper to their pending offer event; guarded by mu
	since  map[int64]time.Time // helper to the time of their last status change; guarded by mu
	dirty  map[string]struct{} // queues whose counts changed; guarded by mu
	sl     map[string]*slCount // queue to today's service level; guarded by mu
	day    string              // the local date sl counts; guarded by mu
}

// Service level targets: an item counts as answered in time when a helper
// accepted it within slVoice (calls) or slOther (every other channel).
const (
	slVoice = 20 * time.Second
	slOther = time.Hour
)

// slCount is one queue's answers today and how many were in time.
type slCount struct{ answered, inTime int }

// countSLLocked counts an accepted event into today's service level.
func (t *tracker) countSLLocked(e acd.Event) {
	day := e.At.Local().Format(time.DateOnly)
	if day != t.day {
		t.day, t.sl = day, map[string]*slCount{}
	}
	c := t.sl[e.Queue]
	if c == nil {
		c = &slCount{}
		t.sl[e.Queue] = c
	}
	c.answered++
	target := slOther
	if e.Channel == acd.Voice {
		target = slVoice
	}
	if e.Duration <= target {
		c.inTime++
	}
}

// serviceLevel returns the share of a queue's items answered in time today,
// or nil when none was answered.
func (t *tracker) serviceLevel(queue string, now time.Time) *float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.sl[queue]
	if c == nil || c.answered == 0 || now.Local().Format(time.DateOnly) != t.day {
		return nil
	}
	v := float64(c.inTime) / float64(c.answered)
	return &v
}

func newTracker() *tracker {
	return &tracker{owner: map[int64]int64{}, offers: map[int64]acd.Event{}, since: map[int64]time.Time{},
		dirty: map[string]struct{}{}, sl: map[string]*slCount{}}
}

// observe records e and returns the helper the event concerns, 0 if none.
func (t *tracker) observe(e acd.Event) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e.Queue != "" {
		t.dirty[e.Queue] = struct{}{}
	}
	if e.FromQueue != "" {
		t.dirty[e.FromQueue] = struct{}{}
	}
	switch e.Type {
	case acd.EventOffered:
		t.owner[e.ItemID] = e.HelperID
		t.offers[e.HelperID] = e
	case acd.EventAccepted:
		t.owner[e.ItemID] = e.HelperID
		delete(t.offers, e.HelperID)
		t.countSLLocked(e)
	case acd.EventRejected, acd.EventTimedOut, acd.EventWithdrawn:
		delete(t.offers, e.HelperID)
	case acd.EventLoggedIn, acd.EventLoggedOut, acd.EventPaused, acd.EventResumed:
		t.since[e.HelperID] = e.At
	}
	h := e.HelperID
	if h == 0 && e.ItemID != 0 {
		h = t.owner[e.ItemID]
	}
	if e.Type == acd.EventClosed {
		delete(t.owner, e.ItemID)
	}
	return h
}

// ownerOf returns the helper an item is offered to or held by, as far as
// the events seen tell, 0 when none.
func (t *tracker) ownerOf(itemID int64) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.owner[itemID]
}

func (t *tracker) offer(helperID int64) (acd.Event, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.offers[helperID]
	return e, ok
}

func (t *tracker) statusSince(helperID int64) *time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return timeOrNil(t.since[helperID])
}

func (t *tracker) takeDirty() map[string]struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.dirty
	t.dirty = map[string]struct{}{}
	return d
}

// onEvent fans a router event out: to the helper it concerns and to the
// supervisors; queue counts and the wallboard follow, throttled. It runs on
// the work service's goroutine and does not block.
func (s *Server) onEvent(e acd.Event) {
	helper := s.track.observe(e)
	a := hub.Audience{Supervisors: true}
	if helper != 0 {
		a.Users = []int64{helper}
	}
	s.hub.Publish(a, encode(envelope{Type: msgEvent, Event: toEventMsg(e)}))
	s.queueCounts.kick()
	s.board.kick()
}

// publishQueues sends the counts of each queue that changed to its members.
func (s *Server) publishQueues() {
	dirty := s.track.takeDirty()
	for _, q := range s.opt.Desk.Queues() {
		if _, ok := dirty[q.Name]; ok {
			qm := toQueueMsg(q)
			s.hub.Publish(hub.Audience{Queues: []string{q.Name}}, encode(envelope{Type: msgQueue, Queue: &qm}))
		}
	}
}

// publishBoard sends the wallboard to the supervisors.
func (s *Server) publishBoard() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := s.buildBoard(ctx)
	if err != nil {
		s.log.Warn("wallboard", "err", err)
		return
	}
	s.hub.Publish(hub.Audience{Supervisors: true}, encode(envelope{Type: msgBoard, Board: b}))
}

func (s *Server) buildBoard(ctx context.Context) (*boardMsg, error) {
	live, err := s.opt.Desk.Live(ctx)
	if err != nil {
		return nil, err
	}
	users, err := s.opt.Store.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[int64]store.User{}
	for _, u := range users {
		byID[u.ID] = u
	}
	b := &boardMsg{Helpers: []statusMsg{}, Queues: []queueMsg{}, Live: live}
	for _, h := range s.opt.Desk.Helpers() {
		sm := s.toStatusMsg(h)
		u := byID[h.ID]
		sm.Login, sm.Name = u.Login, u.Name
		b.Helpers = append(b.Helpers, sm)
	}
	for _, q := range s.opt.Desk.Queues() {
		qm := toQueueMsg(q)
		qm.ServiceLevel = s.track.serviceLevel(q.Name, s.opt.Now())
		b.Queues = append(b.Queues, qm)
	}
	return b, nil
}

func (s *Server) toStatusMsg(h acd.HelperInfo) statusMsg {
	return statusMsg{HelperID: h.ID, Status: h.Status, Reason: h.Reason, Busy: h.Busy, WrapUp: h.WrapUp,
		Offer: h.Offer, Active: nonNil(slices.Clone(h.Active)), Since: s.track.statusSince(h.ID),
		Answered: h.Counters.Accepted, Missed: h.Counters.Missed}
}
