package media

import (
	"sync"
	"testing"
)

// toneTap replaces the audio it is shown with a tone of its own and
// records the codecs and payloads it saw.
type toneTap struct {
	freq float64

	mu     sync.Mutex
	codecs []Codec // guarded by mu
	seen   int     // guarded by mu
	short  bool    // return a payload of the wrong length
	buf    []byte
}

func (t *toneTap) Relay(p []byte, c Codec) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.codecs = append(t.codecs, c)
	t.seen++
	if t.short {
		return p[:len(p)/2]
	}
	t.buf = c.Encode(t.buf[:0], tone(t.freq, len(p)))
	return t.buf
}

func (t *toneTap) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.seen
}

// TestLegTapRewritesRelayedAudio bridges a µ-law caller to an A-law
// helper over loopback UDP and taps the helper's leg: the tap is shown
// the caller's audio already mapped to A-law, what it returns is what the
// helper hears, telephone-events pass it by, and the helper's stream
// keeps one SSRC and contiguous sequence numbers and timestamps as the
// tap comes and goes.
func TestLegTapRewritesRelayedAudio(t *testing.T) {
	caller := newPeer(t, 11)
	helper := newPeer(t, 22)
	a := newTestLeg(t, LegConfig{Codec: PCMU, DTMFPayloadType: 101, Remote: caller.addr()})
	b := newTestLeg(t, LegConfig{Codec: PCMA, DTMFPayloadType: 101, Remote: helper.addr()})
	detach, err := a.attach(b)
	if err != nil {
		t.Fatal(err)
	}
	defer detach()

	callerTone := PCMU.Encode(nil, tone(500, FrameSamples))
	var last *struct {
		ssrc uint32
		seq  uint16
		ts   uint32
	}
	// hear sends one caller packet and returns the frequency the helper
	// hears, checking the stream's continuity.
	hear := func(pt uint8, payload []byte) (float64, []byte) {
		t.Helper()
		caller.send(a.LocalAddr(), pt, payload)
		got := helper.recv()
		if last != nil {
			if got.SSRC != last.ssrc || got.SequenceNumber != last.seq+1 || got.Timestamp != last.ts+FrameSamples {
				t.Errorf("stream broke: ssrc %d seq %d ts %d after ssrc %d seq %d ts %d",
					got.SSRC, got.SequenceNumber, got.Timestamp, last.ssrc, last.seq, last.ts)
			}
		}
		last = &struct {
			ssrc uint32
			seq  uint16
			ts   uint32
		}{got.SSRC, got.SequenceNumber, got.Timestamp}
		if got.PayloadType != PCMA.PayloadType {
			return 0, got.Payload
		}
		return dominantFrequency(PCMA.Decode(nil, got.Payload)), got.Payload
	}
	// The leg latches on the second packet; the first is not relayed.
	caller.send(a.LocalAddr(), 0, callerTone)

	if f, _ := hear(0, callerTone); f < 450 || f > 550 {
		t.Fatalf("untapped: helper hears %.0f Hz, want the caller's 500", f)
	}
	tap := &toneTap{freq: 1000}
	if old := b.SetTap(tap); old != nil {
		t.Errorf("first SetTap returned %v, want nil", old)
	}
	for range 3 {
		if f, _ := hear(0, callerTone); f < 950 || f > 1050 {
			t.Errorf("tapped: helper hears %.0f Hz, want the tap's 1000", f)
		}
	}
	// A key press is relayed as an event, not shown to the tap.
	seen := tap.count()
	if _, p := hear(101, []byte{5, 0x0a, 0, 160}); len(p) != 4 || p[0] != 5 {
		t.Errorf("telephone-event relayed as %v, want the event unchanged", p)
	}
	if tap.count() != seen {
		t.Error("the tap was shown a telephone-event")
	}
	tap.mu.Lock()
	for _, c := range tap.codecs {
		if c != PCMA {
			t.Errorf("tap shown codec %s, want the helper's PCMA (after the mapping)", c.Name)
		}
	}
	tap.short = true
	tap.mu.Unlock()
	if f, p := hear(0, callerTone); len(p) != FrameSamples || f < 450 || f > 550 {
		t.Errorf("tap of the wrong length: helper hears %d bytes at %.0f Hz, want the caller's 160 at 500", len(p), f)
	}
	if old := b.SetTap(nil); old != tap {
		t.Errorf("SetTap(nil) returned %v, want the tap", old)
	}
	if f, _ := hear(0, callerTone); f < 450 || f > 550 {
		t.Errorf("tap removed: helper hears %.0f Hz, want the caller's 500", f)
	}
	// The other direction has no tap: the caller hears the helper.
	helperTone := PCMA.Encode(nil, tone(700, FrameSamples))
	helper.send(b.LocalAddr(), PCMA.PayloadType, helperTone)
	helper.send(b.LocalAddr(), PCMA.PayloadType, helperTone)
	if got := caller.recv(); dominantFrequency(PCMU.Decode(nil, got.Payload)) < 650 {
		t.Error("caller does not hear the helper's tone")
	}
}
