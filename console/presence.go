package console

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/morozhq/moroz/acd"
)

// DefaultGrace is how long a helper whose last console socket dropped
// stays away before they are logged out.
const DefaultGrace = 30 * time.Second

// ReasonDisconnected is the away reason of a helper whose console went.
const ReasonDisconnected = "disconnected"

// statusSetter is the part of Desk presence needs.
type statusSetter interface {
	SetStatus(ctx context.Context, helperID int64, s acd.Status, reason string) error
	Helpers() []acd.HelperInfo
}

// presence turns a helper's console sockets into their status. When the
// last socket goes, a helper who was available is set away at once (no new
// offer goes to a closed tab; a pending one is withdrawn) and, after the
// grace period, offline. A socket that comes back within the grace period
// restores the status the helper had.
type presence struct {
	desk  statusSetter
	grace time.Duration
	log   *slog.Logger

	mu      sync.Mutex
	conns   map[int64]int        // open sockets per helper; guarded by mu
	away    map[int64]*departure // helpers within their grace period; guarded by mu
	closed  bool                 // guarded by mu
	running sync.WaitGroup       // grace timers that fired and are still running
}

// departure is a helper whose last socket dropped.
type departure struct {
	was    acd.Status // what to restore on return
	reason string
	timer  *time.Timer
}

func newPresence(desk statusSetter, grace time.Duration, log *slog.Logger) *presence {
	if grace <= 0 {
		grace = DefaultGrace
	}
	return &presence{desk: desk, grace: grace, log: log, conns: map[int64]int{}, away: map[int64]*departure{}}
}

// connect counts a new socket of helper id, and restores their status if
// they come back within the grace period.
func (p *presence) connect(ctx context.Context, id int64) {
	p.mu.Lock()
	p.conns[id]++
	d := p.away[id]
	if d != nil && d.timer.Stop() {
		delete(p.away, id)
	} else {
		d = nil
	}
	p.mu.Unlock()
	if d != nil {
		p.set(ctx, id, d.was, d.reason)
	}
}

// disconnect counts a closed socket of helper id; after the last one the
// helper is set away at once and offline after the grace period.
func (p *presence) disconnect(ctx context.Context, id int64) {
	p.mu.Lock()
	p.conns[id]--
	if p.conns[id] > 0 || p.closed {
		p.mu.Unlock()
		return
	}
	delete(p.conns, id)
	h, known := p.helper(id)
	if !known || h.Status == acd.StatusOffline {
		p.mu.Unlock()
		return
	}
	d := &departure{was: h.Status, reason: h.Reason}
	d.timer = time.AfterFunc(p.grace, func() { p.expire(id, d) })
	p.away[id] = d
	p.mu.Unlock()
	p.set(ctx, id, acd.StatusAway, ReasonDisconnected)
}

func (p *presence) helper(id int64) (acd.HelperInfo, bool) {
	for _, h := range p.desk.Helpers() {
		if h.ID == id {
			return h, true
		}
	}
	return acd.HelperInfo{}, false
}

// expire logs out a helper whose grace period has passed.
func (p *presence) expire(id int64, d *departure) {
	p.mu.Lock()
	if p.away[id] != d || p.closed {
		p.mu.Unlock()
		return
	}
	delete(p.away, id)
	p.running.Add(1)
	p.mu.Unlock()
	defer p.running.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p.log.Info("helper logged out: console gone", "helper", id, "grace", p.grace.String())
	p.set(ctx, id, acd.StatusOffline, ReasonDisconnected)
}

func (p *presence) set(ctx context.Context, id int64, s acd.Status, reason string) {
	if err := p.desk.SetStatus(ctx, id, s, reason); err != nil {
		p.log.Warn("presence: set status", "helper", id, "status", s, "err", err)
	}
}

// close stops the grace timers and waits for any that are running. The
// helpers keep the status they have. It is idempotent.
func (p *presence) close() {
	p.mu.Lock()
	p.closed = true
	for id, d := range p.away {
		d.timer.Stop()
		delete(p.away, id)
	}
	p.mu.Unlock()
	p.running.Wait()
}
