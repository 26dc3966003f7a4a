package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/morozhq/moroz/sip"
	"github.com/morozhq/moroz/sip/media"
)

// edgeRelay is Moroz's SIP edge itself: SIPp calls it twice per bridged
// call (as b<n>, n = 1, 2, ...; calls 2i+1 and 2i+2 are call i's two
// sides), the edge answers each with its own RTP leg, and a flow bridges
// the two calls of a pair with sip.Call.Bridge. It tells the generator
// each leg's address, as the SDP answer tells SIPp.
type edgeRelay struct {
	srv    *sip.Server
	cancel context.CancelFunc
	outMu  sync.Mutex

	mu      sync.Mutex
	waiting map[int]*sip.Call // guarded by mu: the first side of each pair
	legs    []*media.Leg      // guarded by mu
}

// newEdgeRelay starts the edge on loopback and prints "sip ADDR".
func newEdgeRelay() (*edgeRelay, error) {
	r := &edgeRelay{waiting: map[int]*sip.Call{}}
	srv, err := sip.New(sip.Config{UDPAddr: "127.0.0.1:0", TCPAddr: "off", MediaIP: "127.0.0.1",
		RTPPortMin: 20000, RTPPortMax: 60000, Logger: slog.New(slog.DiscardHandler)}, r.flow)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		cancel()
		return nil, err
	}
	r.srv, r.cancel = srv, cancel
	r.println("sip", srv.UDPAddr().String())
	return r, nil
}

func (r *edgeRelay) println(a ...any) {
	r.outMu.Lock()
	defer r.outMu.Unlock()
	fmt.Fprintln(os.Stdout, a...)
}

// flow answers, reports the leg as "leg I SIDE ADDR", and bridges the
// second side of a pair to the first until either hangs up.
func (r *edgeRelay) flow(ctx context.Context, c *sip.Call) {
	n, ok := callNumber(c.From())
	if !ok {
		c.Reject(404, "Not Found")
		return
	}
	if err := c.Answer(); err != nil {
		return
	}
	i, side := (n-1)/2, (n-1)%2
	r.mu.Lock()
	r.legs = append(r.legs, c.Media())
	other := r.waiting[i]
	if other == nil {
		r.waiting[i] = c
	}
	r.mu.Unlock()
	r.println("leg", i, side, c.Media().LocalAddr().String())
	if other != nil {
		c.Bridge(ctx, other)
	}
	<-c.Done()
}

// callNumber reads n from a From URI sip:b<n>@host.
func callNumber(uri string) (int, bool) {
	user, _, _ := strings.Cut(strings.TrimPrefix(uri, "sip:"), "@")
	n, err := strconv.Atoi(strings.TrimPrefix(user, "b"))
	return n, err == nil && n > 0 && strings.HasPrefix(user, "b")
}

func (r *edgeRelay) relayed() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n uint64
	for _, l := range r.legs {
		n += l.Stats().Sent
	}
	return n
}

func (r *edgeRelay) close() {
	r.cancel()
	r.srv.Close()
}
