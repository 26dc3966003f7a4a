package softphone

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/pion/webrtc/v4"
)

// browserAddr is where the media leg believes the browser is. Nothing is
// ever sent there: rtcConn hands every packet to the peer connection. It
// is a TEST-NET-1 address (RFC 5737), so it never names a real host.
var browserAddr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, 1}), 9)

// inQueue is how many packets from the browser may wait for the media
// leg's receiver before new ones are dropped.
const inQueue = 64

type packet struct {
	b [1500]byte
	n int
}

// rtcConn is a media.PacketConn over a peer connection: reads return the
// browser's RTP (or the hold music while held), writes go to the local
// track, which pion sends with the negotiated SSRC and payload type.
type rtcConn struct {
	track   *webrtc.TrackLocalStaticRTP
	dtmfPT  uint8 // the browser's telephone-event type: never sent to it
	in      chan *packet
	done    chan struct{}
	once    sync.Once
	pool    sync.Pool
	held    atomic.Bool             // the browser's audio is not relayed
	dropped atomic.Uint64           // packets from the browser dropped: queue full
	mon     atomic.Pointer[Monitor] // a supervisor's, while one monitors the call
}

func newRTCConn(track *webrtc.TrackLocalStaticRTP, dtmfPT uint8) *rtcConn {
	c := &rtcConn{track: track, dtmfPT: dtmfPT, in: make(chan *packet, inQueue), done: make(chan struct{})}
	c.pool.New = func() any { return new(packet) }
	return c
}

// ReadFromUDPAddrPort returns the next packet for the media leg.
func (c *rtcConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	select {
	case p := <-c.in:
		n := copy(b, p.b[:p.n])
		c.pool.Put(p)
		return n, browserAddr, nil
	case <-c.done:
		return 0, netip.AddrPort{}, net.ErrClosed
	}
}

// WriteToUDPAddrPort sends one RTP packet to the browser. Telephone
// events are dropped: pion would relabel them with the audio payload type.
func (c *rtcConn) WriteToUDPAddrPort(b []byte, _ netip.AddrPort) (int, error) {
	if len(b) < 12 {
		return len(b), nil
	}
	if pt := b[1] & 0x7f; c.dtmfPT != 0 && pt == c.dtmfPT {
		return len(b), nil
	}
	if m := c.mon.Load(); m != nil {
		if _, err := c.track.Write(m.toBrowser(b)); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return c.track.Write(b)
}

// LocalAddr is the address the media leg reports; the real sockets are
// the peer connection's.
func (c *rtcConn) LocalAddr() net.Addr { return &net.UDPAddr{IP: net.IPv4zero} }

// Close unblocks a pending read; it is idempotent.
func (c *rtcConn) Close() error {
	c.once.Do(func() { close(c.done) })
	return nil
}

// pumpTrack feeds the browser's RTP to the media leg until the track ends
// (its peer connection closed). While held the packets are dropped; while
// a supervisor monitors the call they pass through the monitor.
func (c *rtcConn) pumpTrack(t *webrtc.TrackRemote) {
	for {
		p := c.pool.Get().(*packet)
		n, _, err := t.Read(p.b[:])
		if err != nil {
			c.pool.Put(p)
			return
		}
		if c.held.Load() {
			c.pool.Put(p)
			continue
		}
		p.n = n
		if m := c.mon.Load(); m != nil {
			m.fromBrowser(p.b[:n])
		}
		c.push(p)
	}
}

// push queues p for the media leg, dropping it when the queue is full.
func (c *rtcConn) push(p *packet) {
	select {
	case c.in <- p:
	case <-c.done:
		c.pool.Put(p)
	default:
		c.dropped.Add(1)
		c.pool.Put(p)
	}
}
