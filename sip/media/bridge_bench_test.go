package media

import (
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pion/rtp"
)

// feedConn is a PacketConn whose reads hand out copies of one RTP packet,
// with rising sequence numbers, as many times as feed allows; it blocks
// when none is allowed and fails once closed. Writes are counted. It
// takes the sockets out of the bridge benchmark so that what is measured
// is the leg's own work per packet.
type feedConn struct {
	pkt  []byte
	from netip.AddrPort
	seq  uint16

	mu      sync.Mutex
	cond    *sync.Cond
	left    int  // guarded by mu: reads allowed
	waiting bool // guarded by mu: a read is blocked for want of a feed
	closed  bool // guarded by mu

	wrote  atomic.Int64
	target atomic.Int64
	hit    chan struct{} // receives once when wrote reaches target
}

func newFeedConn(pkt []byte, from netip.AddrPort) *feedConn {
	c := &feedConn{pkt: pkt, from: from, hit: make(chan struct{}, 1)}
	c.cond = sync.NewCond(&c.mu)
	c.target.Store(-1)
	return c
}

func (c *feedConn) feed(n int) {
	c.mu.Lock()
	c.left += n
	c.mu.Unlock()
	c.cond.Broadcast()
}

func (c *feedConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	c.mu.Lock()
	for c.left == 0 && !c.closed {
		c.waiting = true
		c.cond.Wait()
	}
	c.waiting = false
	if c.closed {
		c.mu.Unlock()
		return 0, netip.AddrPort{}, net.ErrClosed
	}
	c.left--
	c.mu.Unlock()
	n := copy(b, c.pkt)
	binary.BigEndian.PutUint16(b[2:], c.seq)
	c.seq++
	return n, c.from, nil
}

func (c *feedConn) WriteToUDPAddrPort(b []byte, _ netip.AddrPort) (int, error) {
	if c.wrote.Add(1) == c.target.Load() {
		c.hit <- struct{}{}
	}
	return len(b), nil
}

// waitWrites blocks until n packets in all have been written.
func (c *feedConn) waitWrites(n int64) {
	c.target.Store(n)
	if c.wrote.Load() >= n {
		return
	}
	<-c.hit
}

func (c *feedConn) LocalAddr() net.Addr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)} }

func (c *feedConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cond.Broadcast()
	return nil
}

// BenchmarkBridgeRelay measures one packet through a bridge, without the
// sockets: read, parse, latch check, deliver, relay in the other leg's
// stream (its header rewritten, the payload copied or mapped between
// µ-law and A-law) and write. The UDP syscalls around it cost several
// microseconds more per packet on loopback (see bench/sip/bridge).
func BenchmarkBridgeRelay(b *testing.B) {
	for _, tc := range []struct {
		name    string
		in, out Codec
	}{
		{"PCMU-PCMU", PCMU, PCMU},
		{"PCMU-PCMA", PCMU, PCMA},
	} {
		b.Run(tc.name, func(b *testing.B) { benchRelay(b, tc.in, tc.out, nil) })
	}
}

// passTap is a Tap that looks at nothing: what the tap hook itself costs.
type passTap struct{}

func (passTap) Relay(p []byte, _ Codec) []byte { return p }

// BenchmarkBridgeRelayTapped is BenchmarkBridgeRelay's µ-law case with a
// tap on the helper's leg that returns each payload unchanged: the cost
// of the hook a monitor uses, without the monitor's mixing.
func BenchmarkBridgeRelayTapped(b *testing.B) { benchRelay(b, PCMU, PCMU, passTap{}) }

func benchRelay(b *testing.B, in, out Codec, tap Tap) {
	caller := netip.MustParseAddrPort("127.0.0.1:4000")
	helper := netip.MustParseAddrPort("127.0.0.1:4002")
	pkt, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: in.PayloadType, SSRC: 7},
		Payload: make([]byte, FrameSamples)}).Marshal()
	if err != nil {
		b.Fatal(err)
	}
	callerConn := newFeedConn(pkt, caller)
	helperConn := newFeedConn(nil, helper)
	log := slog.New(slog.DiscardHandler)
	a, err := NewLeg(callerConn, LegConfig{Codec: in, Remote: caller, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	h, err := NewLeg(helperConn, LegConfig{Codec: out, Remote: helper, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	if tap != nil {
		h.SetTap(tap)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Bridge(ctx, h)

	// Warm up until packets flow: the leg latches, the bridge attaches.
	for helperConn.wrote.Load() == 0 {
		callerConn.feed(10)
		callerConn.waitIdle()
	}
	start := helperConn.wrote.Load()
	b.ReportAllocs()
	b.ResetTimer()
	callerConn.feed(b.N)
	helperConn.waitWrites(start + int64(b.N))
}

// waitIdle blocks until every fed packet has been read and handled: the
// reader is back, waiting for more.
func (c *feedConn) waitIdle() {
	for {
		c.mu.Lock()
		idle := c.left == 0 && c.waiting
		c.mu.Unlock()
		if idle {
			return
		}
		runtime.Gosched()
	}
}
