// Package logging makes Moroz's loggers and writes down how Moroz logs.
//
// # Levels
//
//   - Info: what an operator wants to see: listening, call answered, item
//     offered, letter stored, mailing finished, draining.
//   - Debug: per-message detail: SIP requests, RTP latching, websocket frames.
//   - Warn: misbehaviour of a peer that Moroz survives: a malformed request,
//     a failed login, a dropped slow client. Anything a remote peer can
//     trigger is rate-limited (see Limiter) and raw payloads are never logged
//     above Debug.
//   - Error: only where someone must act: the store is unreachable, a
//     listener died, an acknowledged item could not be routed.
//
// # Keys
//
// Each call, helper session and letter gets a logger with its identity bound
// once (logger.With). The keys are the constants below; use no synonyms.
//
// Library code takes a *slog.Logger from its owner and never uses the
// package-level default.
package logging

import (
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// The key vocabulary.
const (
	KeyComponent = "component" // sip, mail, console, store, router, ...
	KeyCallID    = "call_id"   // SIP Call-ID or ARI channel id
	KeyItemID    = "item_id"   // work item id
	KeyHelper    = "helper"    // helper's login
	KeyQueue     = "queue"     // queue name
	KeyPeer      = "peer"      // remote address, host:port
	KeyMessageID = "message_id"
	KeyAddr      = "addr" // a listening address
	KeyErr       = "err"
)

// New returns a logger writing to w at level ("debug", "info", "warn",
// "error") in format ("text", "json", or "auto": text when w is a terminal).
func New(w io.Writer, level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: ParseLevel(level)}
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// ParseLevel turns a configured level name into a slog.Level; unknown names
// are info (config validation rejects them before this).
func ParseLevel(s string) slog.Level {
	switch s {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Discard returns a logger that drops everything, for tests.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Limiter rate-limits log lines a remote peer can trigger: at most one line
// per key per interval, counting what it suppressed. It is safe for
// concurrent use.
type Limiter struct {
	interval time.Duration

	mu   sync.Mutex
	seen map[string]*limitState // guarded by mu
}

type limitState struct {
	last       time.Time
	suppressed int
}

// NewLimiter returns a Limiter allowing one line per key per interval.
func NewLimiter(interval time.Duration) *Limiter {
	return &Limiter{interval: interval, seen: map[string]*limitState{}}
}

// Allow reports whether a line for key may be written now, and how many were
// suppressed since the last one allowed.
func (l *Limiter) Allow(key string, now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.seen[key]
	if st == nil {
		if len(l.seen) > 10000 {
			l.pruneLocked(now)
		}
		st = &limitState{}
		l.seen[key] = st
	} else if now.Sub(st.last) < l.interval {
		st.suppressed++
		return false, 0
	}
	n := st.suppressed
	st.last, st.suppressed = now, 0
	return true, n
}

func (l *Limiter) pruneLocked(now time.Time) {
	for k, st := range l.seen {
		if now.Sub(st.last) >= l.interval {
			delete(l.seen, k)
		}
	}
}
