package sip

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// peerLog rate-limits log lines a remote peer can trigger (STYLE.md: what a
// peer can cause is rate-limited): a burst, then one line a second, with
// the count of lines suppressed in between.
type peerLog struct {
	log *slog.Logger
	lim *rate.Limiter

	mu         sync.Mutex
	suppressed int // guarded by mu
}

func newPeerLog(log *slog.Logger) *peerLog {
	return &peerLog{log: log, lim: rate.NewLimiter(rate.Every(time.Second), 10)}
}

// Warn logs at Warn level if the limiter allows.
func (p *peerLog) Warn(msg string, args ...any) {
	if !p.lim.Allow() {
		p.mu.Lock()
		p.suppressed++
		p.mu.Unlock()
		return
	}
	p.mu.Lock()
	n := p.suppressed
	p.suppressed = 0
	p.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	p.log.Warn(msg, args...)
}

// sipgoHandler is the slog handler sipgo logs through: it drops raw
// message payloads (sipgo puts whole datagrams under "data" and "msg"
// keys), caps sipgo's level at Warn (what it reports is a peer's doing
// or ours to report, never an operator's call) and rate-limits Warn.
//
// sipgo reports a TCP stream it cannot parse only by logging "failed to
// parse" (UDP datagrams never reach it unparsed: see screenedConn), so
// that record also counts into unparseable.
type sipgoHandler struct {
	inner       slog.Handler
	lim         *rate.Limiter
	unparseable *atomic.Uint64
}

// sipgoParseFailure is the message sipgo v1.7 logs for an unparseable stream.
const sipgoParseFailure = "failed to parse"

// newSipgoLogger is newCountingSipgoLogger for a user agent whose parse
// failures nobody counts.
func newSipgoLogger(l *slog.Logger) *slog.Logger {
	return newCountingSipgoLogger(l, new(atomic.Uint64))
}

func newCountingSipgoLogger(l *slog.Logger, unparseable *atomic.Uint64) *slog.Logger {
	h := &sipgoHandler{inner: l.Handler(), lim: rate.NewLimiter(rate.Every(time.Second), 10), unparseable: unparseable}
	return slog.New(h).With("component", "sipgo")
}

func (h *sipgoHandler) Enabled(ctx context.Context, level slog.Level) bool {
	// Errors are always handled: a parse failure must be counted even
	// when the operator's level hides it.
	return level >= slog.LevelError || h.inner.Enabled(ctx, min(level, slog.LevelWarn))
}

func (h *sipgoHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == sipgoParseFailure {
		h.unparseable.Add(1)
	}
	if r.Level > slog.LevelWarn {
		r.Level = slog.LevelWarn
	}
	if !h.inner.Enabled(ctx, r.Level) || r.Level >= slog.LevelWarn && !h.lim.Allow() {
		return nil
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "data", "msg", "req", "res":
			out.AddAttrs(slog.Int(a.Key+"_len", len(a.Value.String())))
		default:
			out.AddAttrs(a)
		}
		return true
	})
	return h.inner.Handle(ctx, out)
}

func (h *sipgoHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &sipgoHandler{inner: h.inner.WithAttrs(attrs), lim: h.lim, unparseable: h.unparseable}
}

func (h *sipgoHandler) WithGroup(name string) slog.Handler {
	return &sipgoHandler{inner: h.inner.WithGroup(name), lim: h.lim, unparseable: h.unparseable}
}
