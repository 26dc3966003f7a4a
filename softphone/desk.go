package softphone

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/morozhq/moroz/sip/media"
)

// DeskCall is a call a helper took on a SIP desk phone, which the call
// flow bridges between two media legs (package voice): a caller's call,
// or a callback, where Caller is the called number's leg. Listed with
// [Phone.AddDeskCall], it is one of the wallboard's live calls and a
// supervisor may monitor it as they monitor a browser's.
type DeskCall struct {
	Call   string     // the caller's call id, unique among live calls
	From   string     // the caller, as the browser's calls show it
	Helper int64      // whose desk phone it is
	Caller *media.Leg // the caller's media leg
	Desk   *media.Leg // the desk phone's media leg, bridged to Caller
	// ItemID and Queue are the call's work item and queue when the
	// lister knows them (a callback's); when ItemID is 0 the phone asks
	// Options.Describe.
	ItemID int64
	Queue  string
	// Callback marks a callback's bridge: From is the number called.
	Callback bool
}

// deskCall is a listed desk-phone call. A monitor on it taps both media
// legs: Desk's tap sees the caller's audio on its way to the helper
// (after any µ-law↔A-law mapping, in the desk phone's codec) and Caller's
// the helper's on its way to the caller, in the caller's codec.
type deskCall struct {
	p     *Phone
	c     DeskCall
	since time.Time
	log   *slog.Logger
	wg    sync.WaitGroup // a monitor's goroutines that stop it
	done  chan struct{}
	once  sync.Once

	mu      sync.Mutex
	monitor *Monitor // guarded by mu
	ended   bool     // guarded by mu
	itemID  int64    // guarded by mu: once described
	queue   string   // guarded by mu: once described
}

func (d *deskCall) monitorPhone() *Phone     { return d.p }
func (d *deskCall) monitorCall() string      { return d.c.Call }
func (d *deskCall) monitorLog() *slog.Logger { return d.log }
func (d *deskCall) monitorGo(f func()) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		f()
	}()
}

func (d *deskCall) forgetMonitor(m *Monitor) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.monitor == m {
		d.monitor = nil
		d.c.Desk.SetTap(nil)
		d.c.Caller.SetTap(nil)
	}
}

// toHelperTap and toCallerTap are a monitor's taps on a desk-phone call.
type toHelperTap struct{ m *Monitor }
type toCallerTap struct{ m *Monitor }

func (t toHelperTap) Relay(p []byte, c media.Codec) []byte {
	if len(p) > maxPayload {
		return p
	}
	t.m.outMu.Lock()
	defer t.m.outMu.Unlock()
	out, _ := t.m.mixToHelperLocked(p, c)
	return out
}

func (t toCallerTap) Relay(p []byte, c media.Codec) []byte {
	if len(p) > maxPayload {
		return p
	}
	t.m.inMu.Lock()
	defer t.m.inMu.Unlock()
	t.m.mixToCallerLocked(p, c)
	return p
}

// AddDeskCall lists a bridged desk-phone call among the live calls until
// end is called (the bridge ended), which also ends its monitor, if any,
// and waits for it. A call id listed already is replaced.
func (p *Phone) AddDeskCall(c DeskCall) (end func()) {
	d := &deskCall{p: p, c: c, since: time.Now(), done: make(chan struct{}), itemID: c.ItemID, queue: c.Queue,
		log: p.log.With("call_id", c.Call, "helper", c.Helper, "desk", true)}
	p.mu.Lock()
	old := p.desks[c.Call]
	p.desks[c.Call] = d
	p.mu.Unlock()
	if old != nil {
		old.end()
	}
	return d.end
}

func (d *deskCall) end() {
	d.once.Do(func() {
		d.mu.Lock()
		d.ended = true
		m := d.monitor
		d.mu.Unlock()
		close(d.done)
		if m != nil {
			m.stop(errCallEnded)
		}
		d.wg.Wait()
		d.p.mu.Lock()
		if d.p.desks[d.c.Call] == d {
			delete(d.p.desks, d.c.Call)
		}
		d.p.mu.Unlock()
	})
}

// desk returns the listed desk-phone call of callID, nil if none.
func (p *Phone) desk(callID string) *deskCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.desks[callID]
}

func (p *Phone) deskCalls() []*deskCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*deskCall, 0, len(p.desks))
	for _, d := range p.desks {
		out = append(out, d)
	}
	return out
}

func (d *deskCall) Monitor() *Monitor {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.monitor
}

// liveCall is the call as the wallboard lists it.
func (d *deskCall) liveCall(ctx context.Context) LiveCall {
	lc := LiveCall{Call: d.c.Call, From: d.c.From, Helper: d.c.Helper, Since: d.since.UTC(), Desk: true,
		Callback: d.c.Callback}
	if m := d.Monitor(); m != nil {
		lc.Monitor = m.info()
	}
	d.mu.Lock()
	lc.ItemID, lc.Queue = d.itemID, d.queue
	d.mu.Unlock()
	if lc.ItemID == 0 && d.p.opt.Describe != nil {
		lc.ItemID, lc.Queue = d.p.opt.Describe(ctx, d.c.Call)
		d.mu.Lock()
		d.itemID, d.queue = lc.ItemID, lc.Queue
		d.mu.Unlock()
	}
	return lc
}

// startMonitor answers a supervisor's offer with a monitor of the desk
// call in mode, as Leg.startMonitor does for a browser's.
func (d *deskCall) startMonitor(ctx context.Context, supervisor int64, sdpOffer string, mode Mode) (*Monitor, string, error) {
	if !mode.valid() {
		return nil, "", &signalError{codeBadRequest, "monitor: unknown mode " + string(mode)}
	}
	d.mu.Lock()
	busy := d.monitor != nil && d.monitor.supervisor != supervisor
	ended := d.ended
	d.mu.Unlock()
	switch {
	case ended:
		return nil, "", &signalError{codeNotFound, "call ended"}
	case busy:
		return nil, "", &signalError{codeWrongState, errMonitorBusy.Error()}
	}
	return answerMonitor(ctx, d, nil, supervisor, sdpOffer, d.c.Caller.Codec(), mode)
}

func (d *deskCall) attachMonitor(m *Monitor) (*Monitor, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ended {
		return nil, &signalError{codeNotFound, "call ended"}
	}
	if m.isStopped() {
		return nil, &signalError{codeWrongState, "monitor: the connection closed"}
	}
	old := d.monitor
	if old != nil && old.supervisor != m.supervisor {
		return nil, &signalError{codeWrongState, errMonitorBusy.Error()}
	}
	d.monitor = m
	d.c.Desk.SetTap(toHelperTap{m})
	d.c.Caller.SetTap(toCallerTap{m})
	return old, nil
}
