package media

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// ErrNoPort is returned by PortRange.Listen when every port is taken.
var ErrNoPort = errors.New("no free rtp port")

// PortRange hands out UDP sockets for RTP from [Min, Max] on one IP.
// Ports are even, as RFC 3550 §11 recommends, leaving odd ones for RTCP.
// It is safe for concurrent use.
type PortRange struct {
	ip       netip.Addr
	min, max int

	mu   sync.Mutex
	next int // guarded by mu: the port to try first
}

// NewPortRange checks the range and returns an allocator for ip.
func NewPortRange(ip netip.Addr, min, max int) (*PortRange, error) {
	if min < 1024 || max > 65534 || min > max {
		return nil, fmt.Errorf("rtp port range %d-%d: want 1024 <= min <= max <= 65534", min, max)
	}
	min += min % 2
	if min > max {
		return nil, fmt.Errorf("rtp port range %d-%d: holds no even port", min, max)
	}
	return &PortRange{ip: ip, min: min, max: max, next: min}, nil
}

// Size reports how many ports the range can hand out.
func (r *PortRange) Size() int { return (r.max-r.min)/2 + 1 }

// Listen opens a UDP socket on the next free even port, trying each port of
// the range once before giving up with ErrNoPort.
func (r *PortRange) Listen() (*net.UDPConn, error) {
	for range r.Size() {
		port := r.take()
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(r.ip, uint16(port))))
		if err == nil {
			return conn, nil
		}
	}
	return nil, fmt.Errorf("listen rtp on %s %d-%d: %w", r.ip, r.min, r.max, ErrNoPort)
}

func (r *PortRange) take() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	port := r.next
	r.next += 2
	if r.next > r.max {
		r.next = r.min
	}
	return port
}
