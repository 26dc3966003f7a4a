package main

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
)

// unackedMsg is what the SIP edge logs (at Warn) for a call whose 2xx
// was never acknowledged.
const unackedMsg = "call never acknowledged"

// unackedCounter counts the node's unackedMsg records whatever the log
// level (-log), and passes on what the level lets through.
type unackedCounter struct {
	slog.Handler
	n *atomic.Int64
}

func (h *unackedCounter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.Handler.Enabled(ctx, l)
}

func (h *unackedCounter) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == unackedMsg {
		h.n.Add(1)
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h *unackedCounter) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &unackedCounter{Handler: h.Handler.WithAttrs(attrs), n: h.n}
}

func (h *unackedCounter) WithGroup(name string) slog.Handler {
	return &unackedCounter{Handler: h.Handler.WithGroup(name), n: h.n}
}

// socketDrops is the count of datagrams the kernel dropped, for a full
// receive buffer, at the UDP socket bound to addr (the last column of
// /proc/net/udp); -1 when it cannot be read.
func socketDrops(addr string) int64 {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return -1
	}
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 13 {
			continue
		}
		_, port, _ := strings.Cut(f[1], ":")
		if p, err := strconv.ParseUint(port, 16, 16); err == nil && uint16(p) == ap.Port() {
			n, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
			return n
		}
	}
	return -1
}
