package media

import (
	"context"
	"testing"
)

func TestPacerServesManyLegs(t *testing.T) {
	pacer := NewPacer()
	defer pacer.Close()
	p := newPeer(t, 1)
	clip := NewClip(tone(500, 2*FrameSamples))
	const n = 20
	done := make(chan error, n)
	for range n {
		l := newTestLeg(t, LegConfig{Remote: p.addr(), Pacer: pacer})
		go func() { done <- l.Play(context.Background(), clip.Once()) }()
	}
	perSSRC := map[uint32]int{}
	for range 2 * n {
		perSSRC[p.recv().SSRC]++
	}
	for range n {
		if err := <-done; err != nil {
			t.Errorf("play: %v", err)
		}
	}
	if len(perSSRC) != n {
		t.Errorf("streams: got %d, want %d", len(perSSRC), n)
	}
	for ssrc, c := range perSSRC {
		if c != 2 {
			t.Errorf("stream %d: got %d packets, want 2", ssrc, c)
		}
	}
}
