package media

import (
	"context"
	"errors"
	"math"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// guard bounds how long a test waits for a packet so a broken leg fails
// the test instead of hanging it; it asserts nothing about speed.
const guard = 10 * time.Second

var loopback = netip.MustParseAddr("127.0.0.1")

func newTestLeg(t *testing.T, cfg LegConfig) *Leg {
	t.Helper()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Codec.Valid() {
		cfg.Codec = PCMU
	}
	l, err := NewLeg(conn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// peer is a test RTP endpoint on loopback.
type peer struct {
	t    *testing.T
	conn *net.UDPConn
	seq  uint16
	ts   uint32
	ssrc uint32
}

func newPeer(t *testing.T, ssrc uint32) *peer {
	t.Helper()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &peer{t: t, conn: conn, ssrc: ssrc, seq: 100, ts: 1000}
}

func (p *peer) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (p *peer) send(to netip.AddrPort, pt uint8, payload []byte) {
	p.t.Helper()
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: p.seq, Timestamp: p.ts, SSRC: p.ssrc}, Payload: payload}
	b, err := pkt.Marshal()
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.conn.WriteToUDPAddrPort(b, to); err != nil {
		p.t.Fatal(err)
	}
	p.seq++
	p.ts += FrameSamples
}

func (p *peer) recv() rtp.Packet {
	p.t.Helper()
	buf := make([]byte, 1500)
	p.conn.SetReadDeadline(time.Now().Add(guard))
	n, err := p.conn.Read(buf)
	if err != nil {
		p.t.Fatalf("receive rtp: %v", err)
	}
	var pkt rtp.Packet
	if err := pkt.Unmarshal(buf[:n]); err != nil {
		p.t.Fatal(err)
	}
	return pkt
}

func tone(freq float64, n int) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(8000 * math.Sin(2*math.Pi*freq*float64(i)/SampleRate))
	}
	return s
}

func TestLegPlaySwitchKeepsStreamContinuous(t *testing.T) {
	pacer := NewPacer()
	defer pacer.Close()
	for _, tc := range []struct {
		name  string
		pacer *Pacer
	}{{"own timer", nil}, {"shared pacer", pacer}} {
		t.Run(tc.name, func(t *testing.T) { testPlaySwitch(t, tc.pacer) })
	}
}

func testPlaySwitch(t *testing.T, pacer *Pacer) {
	p := newPeer(t, 1)
	l := newTestLeg(t, LegConfig{Remote: p.addr(), Pacer: pacer})
	greeting := NewClip(tone(440, 3*FrameSamples))
	music := NewClip(tone(300, FrameSamples))

	done := make(chan error, 1)
	go func() { done <- l.Play(context.Background(), greeting.Once()) }()
	var pkts []rtp.Packet
	for range 3 {
		pkts = append(pkts, p.recv())
	}
	if err := <-done; err != nil {
		t.Fatalf("play greeting: got %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- l.Play(ctx, music.Loop()) }()
	for range 3 {
		pkts = append(pkts, p.recv())
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("play music: got %v, want context.Canceled", err)
	}

	for i := 1; i < len(pkts); i++ {
		prev, cur := pkts[i-1].Header, pkts[i].Header
		if cur.SequenceNumber != prev.SequenceNumber+1 {
			t.Errorf("packet %d: seq %d after %d, want +1", i, cur.SequenceNumber, prev.SequenceNumber)
		}
		if d := cur.Timestamp - prev.Timestamp; d%FrameSamples != 0 || d == 0 {
			t.Errorf("packet %d: timestamp step %d, want a positive multiple of %d", i, d, FrameSamples)
		}
		if cur.SSRC != prev.SSRC {
			t.Errorf("packet %d: ssrc changed from %d to %d", i, prev.SSRC, cur.SSRC)
		}
	}
}

func TestLegReplacedPlay(t *testing.T) {
	p := newPeer(t, 1)
	l := newTestLeg(t, LegConfig{Remote: p.addr()})
	first := make(chan error, 1)
	go func() { first <- l.Play(context.Background(), Silence()) }()
	p.recv()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go l.Play(ctx, Silence())
	if err := <-first; !errors.Is(err, ErrReplaced) {
		t.Errorf("first play: got %v, want ErrReplaced", err)
	}
}

func TestLegLatchesAndDropsForeignSources(t *testing.T) {
	caller := newPeer(t, 7)
	intruder := newPeer(t, 9)
	l := newTestLeg(t, LegConfig{DTMFPayloadType: 101})

	// The intruder sends first but never two contiguous packets in a row
	// from the same address before the caller does.
	intruder.send(l.LocalAddr(), 0, make([]byte, FrameSamples))
	caller.send(l.LocalAddr(), 0, make([]byte, FrameSamples))
	caller.send(l.LocalAddr(), 0, make([]byte, FrameSamples))
	// Once latched, a key press from the intruder is dropped, the caller's comes through.
	intruder.send(l.LocalAddr(), 101, appendTelephoneEvent(nil, telephoneEvent{event: 9, end: true, duration: 800}))
	caller.send(l.LocalAddr(), 101, appendTelephoneEvent(nil, telephoneEvent{event: 4, end: true, duration: 800}))

	select {
	case d := <-l.DTMF():
		if d.Digit != '4' {
			t.Errorf("digit: got %q, want '4' (the latched caller's)", d.Digit)
		}
	case <-time.After(guard):
		t.Fatal("no key press arrived")
	}
	remote, latched := l.Remote()
	if !latched || remote != caller.addr() {
		t.Errorf("remote: got %v latched=%v, want %v latched", remote, latched, caller.addr())
	}
	if got := l.Stats().Foreign; got != 1 {
		t.Errorf("foreign packets: got %d, want 1", got)
	}
}

func TestLegRecordWritesCallerAudio(t *testing.T) {
	caller := newPeer(t, 3)
	l := newTestLeg(t, LegConfig{Codec: PCMA})
	path := filepath.Join(t.TempDir(), "msg.wav")
	job, err := l.beginRecord(path, 40*FrameDuration)
	if err != nil {
		t.Fatal(err)
	}
	audio := tone(1000, 50*FrameSamples)
	for i := 0; i+FrameSamples <= len(audio); i += FrameSamples {
		caller.send(l.LocalAddr(), PCMA.PayloadType, PCMA.Encode(nil, audio[i:i+FrameSamples]))
	}
	info, err := job.run(context.Background())
	if err != nil {
		t.Fatalf("record: %v", err)
	}
	if info.Duration != 40*FrameDuration {
		t.Errorf("duration: got %v, want %v", info.Duration, 40*FrameDuration)
	}
	clip, err := LoadWAV(path)
	if err != nil {
		t.Fatalf("load recording: %v", err)
	}
	if got := len(clip.Samples()); got != 40*FrameSamples {
		t.Fatalf("recorded %d samples, want %d", got, 40*FrameSamples)
	}
	if f := dominantFrequency(clip.Samples()); math.Abs(f-1000) > 50 {
		t.Errorf("recorded tone: got %.0f Hz, want about 1000 Hz", f)
	}
}

func TestLegRecordEndsWithLeg(t *testing.T) {
	l := newTestLeg(t, LegConfig{})
	path := filepath.Join(t.TempDir(), "empty.wav")
	job, err := l.beginRecord(path, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.beginRecord(path, time.Minute); !errors.Is(err, ErrBusy) {
		t.Errorf("second recording: got %v, want ErrBusy", err)
	}
	l.Close()
	info, err := job.run(context.Background())
	if err != nil {
		t.Fatalf("record: %v", err)
	}
	if info.Duration != 0 {
		t.Errorf("duration: got %v, want 0", info.Duration)
	}
	if _, err := LoadWAV(path); err != nil {
		t.Errorf("load empty recording: %v", err)
	}
}

func TestLegBridgeRelaysWithoutDecoding(t *testing.T) {
	caller := newPeer(t, 11)
	helper := newPeer(t, 22)
	a := newTestLeg(t, LegConfig{Codec: PCMU, Remote: caller.addr()})
	b := newTestLeg(t, LegConfig{Codec: PCMA, Remote: helper.addr()})

	detach, err := a.attach(b)
	if err != nil {
		t.Fatal(err)
	}

	payload := PCMU.Encode(nil, tone(500, FrameSamples))
	for range 3 {
		caller.send(a.LocalAddr(), 0, payload)
	}
	got := helper.recv()
	if got.PayloadType != PCMA.PayloadType {
		t.Errorf("relayed payload type: got %d, want %d", got.PayloadType, PCMA.PayloadType)
	}
	want := append([]byte(nil), payload...)
	transcode(PCMU, PCMA, want)
	if string(got.Payload) != string(want) {
		t.Error("relayed payload differs from the table-mapped original")
	}
	if got.SSRC == caller.ssrc {
		t.Error("relayed packet kept the caller's SSRC, want the leg's own")
	}
	if err := a.Bridge(context.Background(), b); !errors.Is(err, ErrBusy) {
		t.Errorf("second bridge: got %v, want ErrBusy", err)
	}
	detach()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Bridge(ctx, b); err != nil {
		t.Errorf("bridge after detach: got %v, want nil", err)
	}
}

func TestLegCloseIdempotent(t *testing.T) {
	l := newTestLeg(t, LegConfig{})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if err := l.Play(context.Background(), Silence()); !errors.Is(err, ErrClosed) {
		t.Errorf("play after close: got %v, want ErrClosed", err)
	}
}

// dominantFrequency finds the strongest frequency by zero crossings.
func dominantFrequency(s []int16) float64 {
	crossings := 0
	for i := 1; i < len(s); i++ {
		if (s[i-1] < 0) != (s[i] < 0) {
			crossings++
		}
	}
	return float64(crossings) / 2 / (float64(len(s)) / SampleRate)
}
