package media

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// Errors a leg's operations return; callers branch on them with errors.Is.
var (
	// ErrClosed is returned when the leg closed (the call ended).
	ErrClosed = errors.New("media leg closed")
	// ErrReplaced is returned by Play when a later Play took over the leg.
	ErrReplaced = errors.New("playback replaced by another source")
	// ErrBusy is returned when a leg is already recording or bridged.
	ErrBusy = errors.New("media leg busy")
)

// defaultLatchPackets is how many contiguous packets of one SSRC from one
// address a leg needs before it latches onto that address.
const defaultLatchPackets = 2

// LegConfig is what the signalling layer negotiated for a leg.
type LegConfig struct {
	// Codec is the negotiated G.711 variant; required.
	Codec Codec
	// DTMFPayloadType is the negotiated telephone-event payload type;
	// 0 means none was negotiated and events are ignored.
	DTMFPayloadType uint8
	// Remote is where to send before the leg latches (from the SDP offer);
	// it may be the zero value, in which case nothing is sent until then.
	Remote netip.AddrPort
	// LatchPackets is how many contiguous packets latch the leg; default 2.
	LatchPackets int
	// Logger receives the leg's log lines; default slog.Default().
	Logger *slog.Logger
	// Pacer, if set, paces the leg's playback with many others' (see
	// Pacer); nil gives the leg its own timer goroutine.
	Pacer *Pacer
}

// LegStats counts what a leg saw. All counts are since the leg started.
type LegStats struct {
	Received       uint64 // packets accepted from the latched source
	Sent           uint64 // packets sent, played or relayed
	Foreign        uint64 // packets dropped: another source after latching
	Malformed      uint64 // datagrams that were not RTP
	UnknownPayload uint64 // packets of a payload type not negotiated
	DTMFDropped    uint64 // key presses dropped: nobody read DTMF in time
	RecordDropped  uint64 // frames dropped: the recorder fell behind
}

type legCounters struct {
	received, sent, foreign, malformed, unknownPT, dtmfDropped, recordDropped atomic.Uint64
}

// candidate is the source a leg is about to latch onto.
type candidate struct {
	addr netip.AddrPort
	ssrc uint32
	seq  uint16
	n    int
}

// PacketConn is the datagram transport a leg sends and receives RTP on.
// *net.UDPConn is one; package softphone supplies another that carries
// the packets over a WebRTC peer connection. Close must unblock a pending
// read, which then returns an error.
type PacketConn interface {
	ReadFromUDPAddrPort(b []byte) (n int, from netip.AddrPort, err error)
	WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error)
	LocalAddr() net.Addr
	Close() error
}

// Leg is the RTP endpoint of one call leg. Its methods are safe for
// concurrent use; Close is idempotent.
type Leg struct {
	conn      PacketConn
	local     netip.AddrPort
	log       *slog.Logger
	latchNeed int
	dtmf      chan DTMF
	wake      chan struct{} // a Play started: the sender starts pacing
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
	stats     legCounters
	detector  dtmfDetector // receiver goroutine only

	mu       sync.Mutex
	codec    Codec          // guarded by mu
	dtmfPT   uint8          // guarded by mu
	remote   netip.AddrPort // guarded by mu: where packets go
	latched  bool           // guarded by mu
	cand     candidate      // guarded by mu
	sending  bool           // guarded by mu: false while the peer holds the call
	play     *playback      // guarded by mu: the source being sent
	rec      *recording     // guarded by mu: the recorder fed, if any
	peer     *Leg           // guarded by mu: the bridged leg, if any
	relaying bool           // guarded by mu: the bridge supplies our outgoing audio

	sendMu     sync.Mutex
	ssrc       uint32    // guarded by sendMu
	seq        uint16    // guarded by sendMu: next sequence number
	ts         uint32    // guarded by sendMu: timestamp of the current 20 ms slot
	slotAt     time.Time // guarded by sendMu: when the current slot began
	lastTS     uint32    // guarded by sendMu: timestamp last sent
	marker     bool      // guarded by sendMu: next packet starts a talkspurt
	relayIn    uint32    // guarded by sendMu: SSRC of the relayed stream
	relayDelta uint32    // guarded by sendMu: our timestamp minus theirs
	relayOn    bool      // guarded by sendMu: relayDelta is set
	wbuf       []byte    // guarded by sendMu
	lawBuf     []byte    // guarded by sendMu: a relayed payload mapped to our law

	tap atomic.Pointer[tapBox] // a monitor's view of what we relay, if any

	shard *pacerShard // nil: the leg's own sendLoop paces it
	paced bool        // guarded by shard.mu: the leg is in shard's list
	slot  int         // guarded by shard.mu: its slot in the shard, while paced
}

// NewLeg starts a leg on conn, which it owns from then on: Close closes it.
func NewLeg(conn PacketConn, cfg LegConfig) (*Leg, error) {
	if !cfg.Codec.Valid() {
		conn.Close()
		return nil, errors.New("new media leg: no codec")
	}
	if cfg.LatchPackets <= 0 {
		cfg.LatchPackets = defaultLatchPackets
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	l := &Leg{
		conn:      conn,
		local:     localAddrPort(conn),
		log:       cfg.Logger,
		latchNeed: cfg.LatchPackets,
		dtmf:      make(chan DTMF, 16),
		wake:      make(chan struct{}, 1),
		done:      make(chan struct{}),
		codec:     cfg.Codec,
		dtmfPT:    cfg.DTMFPayloadType,
		remote:    unmap(cfg.Remote),
		sending:   true,
		ssrc:      rand.Uint32(),
		seq:       uint16(rand.Uint32()),
		ts:        rand.Uint32(),
		slotAt:    time.Now(),
		marker:    true,
		wbuf:      make([]byte, 1500),
	}
	if cfg.Pacer != nil {
		l.shard = cfg.Pacer.shardFor()
		l.wg.Add(1)
		go l.receiveLoop()
		return l, nil
	}
	l.wg.Add(2)
	go l.receiveLoop()
	go l.sendLoop()
	return l, nil
}

// LocalAddr returns the address the leg receives RTP on.
func (l *Leg) LocalAddr() netip.AddrPort { return l.local }

// Codec returns the leg's negotiated codec.
func (l *Leg) Codec() Codec {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.codec
}

// Done is closed when the leg closes.
func (l *Leg) Done() <-chan struct{} { return l.done }

// DTMF delivers key presses, each once. The channel is never closed; use
// Done to learn that the leg ended. Presses nobody reads are dropped once
// 16 are waiting.
func (l *Leg) DTMF() <-chan DTMF { return l.dtmf }

// SetRemote changes where packets go until the leg latches (a re-INVITE
// may move the peer); after latching the latched address is kept.
func (l *Leg) SetRemote(addr netip.AddrPort) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.latched {
		l.remote = unmap(addr)
	}
}

// SetFormat changes the codec and telephone-event payload type, for a
// negotiation that ends after the leg started (an SDP answer in the ACK).
// An invalid codec is ignored.
func (l *Leg) SetFormat(c Codec, dtmfPayloadType uint8) {
	if !c.Valid() {
		return
	}
	l.mu.Lock()
	l.codec, l.dtmfPT = c, dtmfPayloadType
	l.mu.Unlock()
}

// SetSending turns sending on or off; off while the peer holds the call
// (RFC 3264 §8.4: a sendonly or inactive offer means we must not send).
func (l *Leg) SetSending(on bool) {
	l.mu.Lock()
	l.sending = on
	l.mu.Unlock()
}

// Remote returns where the leg sends and whether it has latched there.
func (l *Leg) Remote() (addr netip.AddrPort, latched bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.remote, l.latched
}

// Stats returns a snapshot of the leg's counters.
func (l *Leg) Stats() LegStats {
	c := &l.stats
	return LegStats{
		Received: c.received.Load(), Sent: c.sent.Load(), Foreign: c.foreign.Load(),
		Malformed: c.malformed.Load(), UnknownPayload: c.unknownPT.Load(),
		DTMFDropped: c.dtmfDropped.Load(), RecordDropped: c.recordDropped.Load(),
	}
}

// Close stops the leg, closes its socket and waits for its goroutines.
// Operations in progress return ErrClosed. It is idempotent.
func (l *Leg) Close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.done)
		err = l.conn.Close()
		l.wg.Wait()
	})
	return err
}

// localAddrPort is conn's local address, or the zero value when it is not
// a UDP address.
func localAddrPort(conn PacketConn) netip.AddrPort {
	if a, ok := conn.LocalAddr().(*net.UDPAddr); ok {
		return a.AddrPort()
	}
	return netip.AddrPort{}
}

func (l *Leg) closed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// receiveLoop reads RTP until the socket closes.
func (l *Leg) receiveLoop() {
	defer l.wg.Done()
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for {
		n, from, err := l.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if l.closed() || errors.Is(err, net.ErrClosed) {
				return
			}
			l.log.Debug("rtp read failed", "error", err)
			continue
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			l.stats.malformed.Add(1)
			continue
		}
		if l.accept(unmap(from), &pkt.Header) {
			l.stats.received.Add(1)
			l.deliver(&pkt)
		}
	}
}

// accept applies strict symmetric RTP: before latching it watches for a
// source sending one SSRC with contiguous sequence numbers; after, only
// the latched address gets through.
func (l *Leg) accept(from netip.AddrPort, h *rtp.Header) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.latched {
		if from == l.remote {
			return true
		}
		l.stats.foreign.Add(1)
		return false
	}
	c := &l.cand
	if c.n > 0 && c.addr == from && c.ssrc == h.SSRC && h.SequenceNumber == c.seq+1 {
		c.n++
	} else {
		*c = candidate{addr: from, ssrc: h.SSRC, n: 1}
	}
	c.seq = h.SequenceNumber
	if c.n < l.latchNeed {
		return false
	}
	l.latched, l.remote = true, from
	l.log.Debug("rtp latched", "peer", from.String(), "ssrc", h.SSRC)
	return true
}

// deliver hands an accepted packet to DTMF detection, the recorder and the
// bridged leg.
func (l *Leg) deliver(pkt *rtp.Packet) {
	l.mu.Lock()
	codec, dtmfPT, rec, peer := l.codec, l.dtmfPT, l.rec, l.peer
	l.mu.Unlock()

	switch pt := pkt.PayloadType; {
	case dtmfPT != 0 && pt == dtmfPT:
		if d, ok := l.detector.packet(pkt.Timestamp, pkt.Payload); ok {
			select {
			case l.dtmf <- d:
			default:
				l.stats.dtmfDropped.Add(1)
			}
		}
	case pt == codec.PayloadType:
		if rec != nil {
			rec.offer(pkt.SequenceNumber, pkt.Payload, &l.stats)
		}
	default:
		l.stats.unknownPT.Add(1)
		return
	}
	if peer != nil {
		peer.relay(pkt, codec, dtmfPT)
	}
}

// sendLoop paces outgoing audio: one slot every 20 ms while a source
// plays. With nothing to play it sleeps, and on waking it moves the
// stream clock on by the slots that passed (catchUp), so a leg that only
// listens or relays costs no timer wake-ups.
func (l *Leg) sendLoop() {
	defer l.wg.Done()
	frame := make([]int16, FrameSamples)
	payload := make([]byte, 0, FrameSamples)
	var ticker *time.Ticker
	var tick <-chan time.Time
	stop := func() {
		if ticker != nil {
			ticker.Stop()
			ticker, tick = nil, nil
		}
	}
	defer stop()
	for {
		select {
		case <-l.done:
			return
		case <-l.wake:
			if ticker == nil {
				l.catchUp(time.Now())
				ticker = time.NewTicker(FrameDuration)
				tick = ticker.C
			}
		case <-tick:
			if !l.tick(frame, payload) {
				stop()
			}
		}
	}
}

// tick sends the current source's next frame, if any, and advances the
// stream clock either way, so timestamps follow the wall clock (RFC 3550
// §5.1) and stay continuous whatever plays next. It reports whether a
// source is still playing.
func (l *Leg) tick(frame []int16, payload []byte) bool {
	l.mu.Lock()
	p, codec, remote := l.play, l.codec, l.remote
	active := l.sending && !l.relaying && remote.IsValid()
	l.mu.Unlock()

	if p == nil {
		return false
	}
	if !active {
		l.skipSlot()
		return true
	}
	if !p.src.ReadFrame(frame) {
		l.endPlay(p, nil)
		l.skipSlot()
		return false
	}
	l.sendSlot(codec.PayloadType, codec.Encode(payload[:0], frame), remote)
	return true
}

func (l *Leg) skipSlot() { l.skipFrames(1) }

// skipFrames moves the stream clock on by n frames that were not sent,
// so timestamps go on following the wall clock across the gap.
func (l *Leg) skipFrames(n int64) {
	l.sendMu.Lock()
	l.ts += uint32(n) * FrameSamples
	l.slotAt = l.slotAt.Add(time.Duration(n) * FrameDuration)
	l.marker = true
	l.sendMu.Unlock()
}

// catchUp moves the stream clock to now after an idle spell.
func (l *Leg) catchUp(now time.Time) {
	l.sendMu.Lock()
	l.catchUpLocked(now)
	l.sendMu.Unlock()
}

func (l *Leg) catchUpLocked(now time.Time) {
	if n := now.Sub(l.slotAt) / FrameDuration; n > 0 {
		l.ts += uint32(n) * FrameSamples
		l.slotAt = l.slotAt.Add(n * FrameDuration)
	}
	l.marker = true
}

func (l *Leg) sendSlot(pt uint8, payload []byte, to netip.AddrPort) {
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	h := rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: l.seq,
		Timestamp: l.ts, SSRC: l.ssrc, Marker: l.marker}
	l.ts += FrameSamples
	l.slotAt = l.slotAt.Add(FrameDuration)
	l.writeLocked(&h, payload, to)
}

// writeLocked sends one packet; sendMu must be held.
func (l *Leg) writeLocked(h *rtp.Header, payload []byte, to netip.AddrPort) {
	n, err := h.MarshalTo(l.wbuf)
	if err != nil {
		return
	}
	n += copy(l.wbuf[n:], payload)
	l.seq++
	l.lastTS = h.Timestamp
	l.marker = false
	if _, err := l.conn.WriteToUDPAddrPort(l.wbuf[:n], to); err != nil {
		l.log.Debug("rtp write failed", "peer", to.String(), "error", err)
		return
	}
	l.stats.sent.Add(1)
}

// relay sends a packet received on the bridged leg out of this one, in
// this leg's own stream: our SSRC and sequence numbers, their timestamps
// shifted onto our clock, the payload unchanged (or mapped between µ-law
// and A-law by table), unless a Tap rewrites it.
func (l *Leg) relay(in *rtp.Packet, inCodec Codec, inDTMF uint8) {
	l.mu.Lock()
	codec, dtmfPT, remote := l.codec, l.dtmfPT, l.remote
	active := l.sending && remote.IsValid()
	l.mu.Unlock()
	if !active {
		return
	}

	pt := codec.PayloadType
	payload := in.Payload
	mapped, audio := false, true
	switch {
	case inDTMF != 0 && in.PayloadType == inDTMF:
		if dtmfPT == 0 {
			return
		}
		pt, audio = dtmfPT, false
	case inCodec.law != codec.law:
		mapped = true
	}

	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	if mapped {
		// Mapped in a buffer of ours: the payload is the other leg's
		// receive buffer, and a copy per packet would be garbage.
		l.lawBuf = append(l.lawBuf[:0], payload...)
		transcode(inCodec, codec, l.lawBuf)
		payload = l.lawBuf
	}
	if audio {
		// After the mapping: a tap sees and rewrites what our party
		// hears, in our codec. The payload may be the other leg's
		// receive buffer, which is ours until relay returns.
		payload = l.tapped(payload, codec)
	}
	if !l.relayOn || l.relayIn != in.SSRC {
		l.catchUpLocked(time.Now())
		l.relayIn, l.relayOn = in.SSRC, true
		l.relayDelta = l.ts - in.Timestamp
	}
	h := rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: l.seq,
		Timestamp: in.Timestamp + l.relayDelta, SSRC: l.ssrc, Marker: l.marker || in.Marker}
	l.writeLocked(&h, payload, remote)
}

// playback is one Play call's hold on the sender.
type playback struct {
	src  Source
	done chan struct{}
	once sync.Once
	err  error
}

func (p *playback) finish(err error) {
	p.once.Do(func() {
		p.err = err
		close(p.done)
	})
}

// Play sends src until it is exhausted (nil), ctx ends (ctx.Err()),
// another Play takes over (ErrReplaced) or the leg closes (ErrClosed). A
// new Play replaces the current source at the next 20 ms slot with no gap
// in sequence numbers or timestamps. It blocks while playing.
func (l *Leg) Play(ctx context.Context, src Source) error {
	p := &playback{src: src, done: make(chan struct{})}
	l.mu.Lock()
	old := l.play
	l.play = p
	l.mu.Unlock()
	if old != nil {
		old.finish(ErrReplaced)
	}
	if l.shard != nil {
		l.shard.add(l)
	} else {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}

	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		l.endPlay(p, ctx.Err())
		return ctx.Err()
	case <-l.done:
		l.endPlay(p, ErrClosed)
		return ErrClosed
	}
}

// endPlay removes p from the sender if it is still current and finishes it.
func (l *Leg) endPlay(p *playback, err error) {
	l.mu.Lock()
	if l.play == p {
		l.play = nil
	}
	l.mu.Unlock()
	p.finish(err)
}

// Bridge relays RTP both ways between l and other without decoding, until
// ctx ends (nil) or either leg closes (ErrClosed). A leg already bridged
// makes Bridge return ErrBusy at once. While bridged neither leg sends its
// own source; playback resumes when the bridge ends. It blocks for the
// bridge's life.
func (l *Leg) Bridge(ctx context.Context, other *Leg) error {
	detach, err := l.attach(other)
	if err != nil {
		return err
	}
	defer detach()

	select {
	case <-ctx.Done():
		return nil
	case <-l.done:
		return ErrClosed
	case <-other.done:
		return ErrClosed
	}
}

// attach joins the two legs and returns the function that parts them.
func (l *Leg) attach(other *Leg) (detach func(), err error) {
	if other == l {
		return nil, errors.New("bridge leg: a leg cannot bridge to itself")
	}
	if err := l.setPeer(other); err != nil {
		return nil, err
	}
	if err := other.setPeer(l); err != nil {
		l.setPeer(nil)
		return nil, err
	}
	return func() {
		l.setPeer(nil)
		other.setPeer(nil)
	}, nil
}

func (l *Leg) setPeer(p *Leg) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p != nil && l.peer != nil {
		return ErrBusy
	}
	l.peer, l.relaying = p, p != nil
	if p == nil {
		l.sendMu.Lock()
		l.relayOn = false // the next bridge anchors its timestamps anew
		l.sendMu.Unlock()
	}
	return nil
}
