package main

import (
	"net"
	"slices"
	"sync"
	"time"

	"github.com/pion/rtp"
)

// receiver is where every bench call sends its RTP. It measures, per
// stream, each packet's arrival against its RTP timestamp: the change in
// transit time between consecutive packets (RFC 3550 §6.4.1's D), which
// skipped slots do not disturb.
type receiver struct {
	conn *net.UDPConn
	wg   sync.WaitGroup

	mu      sync.Mutex
	last    map[uint32]arrival // guarded by mu: by SSRC
	dev     []time.Duration    // guarded by mu: |D| of every packet after a stream's first
	packets int                // guarded by mu
}

type arrival struct {
	at time.Time
	ts uint32
}

type jitterStats struct {
	packets, streams int
	p50, p99, max    time.Duration
}

func newReceiver() (*receiver, error) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	conn.SetReadBuffer(16 << 20)
	r := &receiver{conn: conn, last: map[uint32]arrival{}}
	r.wg.Go(r.loop)
	return r, nil
}

func (r *receiver) addr() string { return r.conn.LocalAddr().String() }

func (r *receiver) loop() {
	buf := make([]byte, 1500)
	var h rtp.Header
	for {
		n, err := r.conn.Read(buf)
		if err != nil {
			return
		}
		now := time.Now()
		if _, err := h.Unmarshal(buf[:n]); err != nil {
			continue
		}
		r.observe(h.SSRC, h.Timestamp, now)
	}
}

func (r *receiver) observe(ssrc, ts uint32, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.packets++
	prev, ok := r.last[ssrc]
	r.last[ssrc] = arrival{at: now, ts: ts}
	if !ok {
		return
	}
	media := time.Duration(int32(ts-prev.ts)) * time.Second / 8000
	d := now.Sub(prev.at) - media
	r.dev = append(r.dev, max(d, -d))
}

func (r *receiver) stats() jitterStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := jitterStats{packets: r.packets, streams: len(r.last)}
	if len(r.dev) == 0 {
		return s
	}
	d := slices.Clone(r.dev)
	slices.Sort(d)
	s.p50, s.p99, s.max = d[len(d)/2], d[len(d)*99/100], d[len(d)-1]
	return s
}

func (r *receiver) close() {
	r.conn.Close()
	r.wg.Wait()
}
