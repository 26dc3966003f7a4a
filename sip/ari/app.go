package ari

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/voice"
	"github.com/morozhq/moroz/work"
)

// Defaults for Options fields left zero.
const (
	DefaultMinBackoff  = 250 * time.Millisecond
	DefaultMaxBackoff  = 15 * time.Second
	DefaultRingTimeout = 30 // seconds
)

// HelperArg is the StasisStart argument of the channels Moroz originates
// to helpers' phones; a caller's channel never carries it first.
const HelperArg = "moroz-helper"

// idPrefix starts the id of every channel and bridge Moroz creates, so
// that reconciling finds leftovers of an earlier run.
const idPrefix = "moroz-"

// Options configure an App. Client, Handler, Ports and ExternalHost are
// required.
type Options struct {
	Client *Client
	// Handler runs one call; normally (*voice.Flow).Handle. It returns
	// when the call is over.
	Handler func(ctx context.Context, c voice.Call)
	// Ports is the RTP port range of the external media legs.
	Ports *media.PortRange
	// ExternalHost is the address of Moroz's media legs as Asterisk
	// reaches it (the external_host of external media channels).
	ExternalHost netip.Addr
	// Work and Store, when set, let a call Asterisk lost mid-call (a
	// restart) be recorded as dropped and leave a callback.
	Work  *work.Service
	Store store.Store
	// MinBackoff and MaxBackoff bound the wait between reconnections of
	// the events websocket; defaults DefaultMinBackoff, DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// CallEnded, when set, is called with a caller's channel id after
	// its call is over and recorded, dropped-call bookkeeping included.
	CallEnded func(id string)
	// RingTimeout is how long, in seconds, a helper's phone rings;
	// default DefaultRingTimeout.
	RingTimeout int
	// Logger receives the app's logs; nil discards them.
	Logger *slog.Logger
}

// App is Moroz's Stasis application: it reads ARI events, runs a call
// for every caller's channel that enters the app and rings helpers'
// phones for the flow (Dialer).
type App struct {
	opt Options
	c   *Client
	log *slog.Logger
	wg  sync.WaitGroup // call goroutines

	mu       sync.Mutex
	chans    map[string]*channel // guarded by mu: channel id → channel; nil value: external media
	bridges  map[string]bool     // guarded by mu: bridges Moroz made and has not destroyed
	unended  map[string]bool     // guarded by mu: channels whose hangup Asterisk refused
	conns    int                 // guarded by mu: events connections made
	startup  string              // guarded by mu: Asterisk's startup time at the last connection
	calls    int                 // guarded by mu: callers whose flow runs
	draining bool                // guarded by mu: new callers are turned away
}

// Drain turns new callers away (hung up with reason congestion, so
// Asterisk's dialplan can send them elsewhere); live calls go on.
func (a *App) Drain() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.draining = true
}

// ActiveCalls is how many callers' flows are running.
func (a *App) ActiveCalls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls
}

// New checks opt and returns an App; Run starts it.
func New(opt Options) (*App, error) {
	if opt.Client == nil || opt.Handler == nil || opt.Ports == nil || !opt.ExternalHost.IsValid() {
		return nil, errors.New("new ari app: Client, Handler, Ports and ExternalHost are required")
	}
	if opt.MinBackoff <= 0 {
		opt.MinBackoff = DefaultMinBackoff
	}
	if opt.MaxBackoff < opt.MinBackoff {
		opt.MaxBackoff = max(DefaultMaxBackoff, opt.MinBackoff)
	}
	if opt.RingTimeout <= 0 {
		opt.RingTimeout = DefaultRingTimeout
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	return &App{opt: opt, c: opt.Client, log: opt.Logger, chans: map[string]*channel{},
		bridges: map[string]bool{}, unended: map[string]bool{}}, nil
}

// Connections is how many times the events websocket connected.
func (a *App) Connections() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.conns
}

// Run reads events, reconnecting with backoff whenever the websocket
// drops, until ctx ends; then it waits for the calls it started, which
// end with ctx, and returns ctx's error.
func (a *App) Run(ctx context.Context) error {
	defer a.wg.Wait()
	wait := a.opt.MinBackoff
	for {
		conn, err := a.c.ConnectEvents(ctx)
		if err == nil {
			wait = a.opt.MinBackoff
			a.serve(ctx, conn)
		} else if ctx.Err() == nil {
			a.log.Warn("ari events not connected; retrying", "err", err, "wait", wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, a.opt.MaxBackoff)
	}
}

// serve reconciles what Moroz knew with Asterisk, then dispatches the
// events of one connection until it drops or ctx ends.
func (a *App) serve(ctx context.Context, conn *EventConn) {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	a.mu.Lock()
	a.conns++
	n := a.conns
	a.mu.Unlock()
	a.log.Info("ari events connected", "app", a.c.App(), "connection", n)

	restarted := a.restarted(ctx)
	if n > 1 {
		a.reconcile(ctx, restarted)
	}
	for {
		ev, err := conn.Read()
		if err != nil {
			if ctx.Err() == nil {
				a.log.Warn("ari events dropped", "err", err)
			}
			return
		}
		a.dispatch(ctx, ev)
	}
}

// restarted reports whether Asterisk started again since the last
// connection; when it cannot tell, it says so, and calls it lost count as
// dropped.
func (a *App) restarted(ctx context.Context) bool {
	t, err := a.c.StartupTime(ctx)
	if err != nil {
		a.requestFailed("asterisk startup time", err)
		return true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	prev := a.startup
	a.startup = t
	if prev != "" && prev != t {
		a.log.Warn("asterisk restarted", "was", prev, "now", t)
	}
	return prev != t
}

// dispatch hands one event to the channel it concerns.
func (a *App) dispatch(ctx context.Context, ev Event) {
	if ev.Channel == nil {
		return
	}
	id := ev.Channel.ID
	ch, known := a.lookup(id)
	switch ev.Type {
	case EventStasisStart:
		a.started(ctx, ev, ch, known)
	case EventChannelDtmfReceived:
		if ch != nil {
			ch.key(ev.Digit, ev.DurationMS)
		}
	case EventStasisEnd, EventChannelDestroyed:
		if ch != nil {
			ch.finish(ev.Cause, false)
		} else if known {
			a.forget(id)
		}
	}
}

// started handles a channel entering the app: an answered helper phone,
// an external media channel of Moroz's, or a new caller.
func (a *App) started(ctx context.Context, ev Event, ch *channel, known bool) {
	switch {
	case ch != nil:
		ch.entered(*ev.Channel)
	case known: // external media
	case len(ev.Args) > 0 && ev.Args[0] == HelperArg:
		a.log.Warn("helper phone answered after its ring was given up; hanging up", "call_id", ev.Channel.ID)
		a.hangupStray(ev.Channel.ID, ReasonNormal)
	case strings.HasPrefix(ev.Channel.ID, idPrefix):
		// Moroz made it and has given it up already (media of a failed
		// answer), or it is left from an earlier run: never a caller.
		a.hangupStray(ev.Channel.ID, ReasonNormal)
	default:
		a.startCall(ctx, *ev.Channel)
	}
}

// startCall runs the handler for a caller's channel in a goroutine the
// app awaits; the call's context ends when the channel does.
func (a *App) startCall(ctx context.Context, info Channel) {
	a.mu.Lock()
	draining := a.draining
	if !draining {
		a.calls++
	}
	a.mu.Unlock()
	if draining {
		a.log.Info("draining: caller turned away", "call_id", info.ID)
		a.hangupStray(info.ID, ReasonCongestion)
		return
	}
	ch := a.newChannel(info)
	a.remember(ch.id, ch)
	ch.log.Info("call entered stasis", "caller", info.Caller.Number, "exten", info.Dialplan.Exten)
	a.wg.Go(func() {
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		ch.setOnEnd(cancel)
		a.opt.Handler(cctx, Call{ch})
		ch.hangup(ReasonNormal)
		a.afterDrop(ch)
		a.mu.Lock()
		a.calls--
		a.mu.Unlock()
		if a.opt.CallEnded != nil {
			a.opt.CallEnded(ch.id)
		}
	})
}

func (a *App) lookup(id string) (ch *channel, known bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ch, known = a.chans[id]
	return ch, known
}

// remember registers a channel id; ch is nil for external media.
func (a *App) remember(id string, ch *channel) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.chans[id] = ch
}

// ownBridge notes (on) or forgets a bridge Moroz made, so reconciling
// never sweeps one still being set up.
func (a *App) ownBridge(id string, on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if on {
		a.bridges[id] = true
	} else {
		delete(a.bridges, id)
	}
}

func (a *App) forget(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.chans, id)
}

// newID returns a fresh id for a channel or bridge Moroz creates.
func (a *App) newID(kind string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return idPrefix + kind + "-" + hex.EncodeToString(b)
}

// requestFailed logs a failed ARI request with the request it was and
// returns err wrapped with what was being done.
func (a *App) requestFailed(what string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		a.log.Error("ari request failed", "op", what, "request", e.Method+" "+e.Path, "status", e.Status, "message", e.Message)
	} else {
		a.log.Error("ari request failed", "op", what, "err", err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// hangupLater notes a channel Moroz ended but Asterisk would not hang
// up: reconciling hangs it up again rather than adopting it as a caller.
func (a *App) hangupLater(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.unended[id] = true
}

// hangupStray hangs up a channel Moroz does not follow.
func (a *App) hangupStray(id, reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := a.c.Hangup(ctx, id, reason); err != nil && !IsNotFound(err) {
		a.log.Warn("stray channel not hung up", "call_id", id, "err", err)
	}
}
