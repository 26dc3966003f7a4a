package main

import (
	"context"
	"encoding/binary"
	"math"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/morozhq/moroz/bench/internal/sysstat"
	"github.com/morozhq/moroz/sip/media"
)

// Phases of a run, as the receivers see them: only packets received in
// the window count.
const (
	phaseWarmup int32 = iota
	phaseWindow
	phaseAfter
)

// end is one side of one call in the generator: a UDP socket that sends
// 20 ms PCMU frames to the relay and receives the other side's frames
// back through it. Each payload carries its send time (Unix nanoseconds)
// and the generator's own sequence number, which the relay passes on
// unchanged, so a packet the relay never received still shows as a gap.
type end struct {
	conn *net.UDPConn
	to   netip.AddrPort // the relay's socket for this side
	ssrc uint32
	seq  uint16 // RTP sequence number, sender only
	gseq uint32 // payload sequence number, sender only
	due  int    // frames sent so far, sender only

	offset time.Duration // when in each 20 ms the end sends

	// Receiver only until it returns, then read by the report.
	got, lost, late int64
	last            uint32
	started         bool
	latency         []int32 // kernel receive time minus send time, ns
}

func newEnd(i int) (*end, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	conn.SetReadBuffer(1 << 20)
	if err := sysstat.EnableTimestamps(conn); err != nil {
		conn.Close()
		return nil, err
	}
	return &end{conn: conn, ssrc: 0x10000 + uint32(i)}, nil
}

func (e *end) addr() netip.AddrPort { return e.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// receive reads until the socket closes, counting what arrives while the
// phase is phaseWindow.
func (e *end) receive(phase *atomic.Int32) {
	buf := make([]byte, 1500)
	oob := make([]byte, sysstat.OOBSize)
	var h rtp.Header
	for {
		n, oobn, _, _, err := e.conn.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			return
		}
		if phase.Load() != phaseWindow {
			continue
		}
		rx, ok := sysstat.KernelTime(oob[:oobn])
		if !ok {
			rx = time.Now().UnixNano()
		}
		hn, err := h.Unmarshal(buf[:n])
		if err != nil || n-hn < 12 {
			continue
		}
		payload := buf[hn:n]
		e.count(binary.BigEndian.Uint32(payload[8:12]), rx-int64(binary.BigEndian.Uint64(payload)))
	}
}

func (e *end) count(gseq uint32, latency int64) {
	e.got++
	e.latency = append(e.latency, int32(min(latency, math.MaxInt32)))
	switch {
	case !e.started:
		e.started = true
	case gseq > e.last:
		e.lost += int64(gseq - e.last - 1)
	default:
		e.late++ // reordered or duplicated
		return
	}
	e.last = gseq
}

// send paces a shard of ends. Each end's frames are due every 20 ms from
// its own offset, the offsets spread evenly over 20 ms as real calls'
// are; the shard looks every millisecond and sends what fell due, so a
// tick the scheduler delayed is made up at once and the offered load
// stays at 50 packets a second per end.
// Frames sent while the phase is phaseWindow are added to sent.
func send(ctx context.Context, ends []*end, start time.Time, phase *atomic.Int32, sent *atomic.Int64, wg *sync.WaitGroup) {
	defer wg.Done()
	pkt := make([]byte, 12+media.FrameSamples)
	for i := 12 + 12; i < len(pkt); i++ {
		pkt[i] = 0xff // µ-law silence
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		elapsed := time.Since(start)
		n := 0
		for _, e := range ends {
			if elapsed < e.offset {
				continue
			}
			for due := int((elapsed-e.offset)/media.FrameDuration) + 1; e.due < due; e.due++ {
				e.frame(pkt)
				n++
			}
		}
		if phase.Load() == phaseWindow {
			sent.Add(int64(n))
		}
	}
}

func (e *end) frame(pkt []byte) {
	h := rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: e.seq,
		Timestamp: uint32(e.due * media.FrameSamples), SSRC: e.ssrc, Marker: e.due == 0}
	h.MarshalTo(pkt)
	binary.BigEndian.PutUint32(pkt[12+8:], e.gseq)
	binary.BigEndian.PutUint64(pkt[12:], uint64(time.Now().UnixNano()))
	e.conn.WriteToUDPAddrPort(pkt, e.to)
	e.seq++
	e.gseq++
}
