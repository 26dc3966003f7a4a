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

// A shard's groups stay even as legs join and leave: each joins the
// group with the fewest.
func TestPacerGroupsStayEven(t *testing.T) {
	s := &pacerShard{wake: make(chan struct{}, 1)}
	legs := make([]*Leg, 4*pacerSlots+2) // two groups get one more
	for i := range legs {
		legs[i] = &Leg{}
		s.add(legs[i])
	}
	sizes := func() (lo, hi int) {
		lo, hi = len(s.slots[0]), len(s.slots[0])
		for _, g := range s.slots {
			lo, hi = min(lo, len(g)), max(hi, len(g))
		}
		return lo, hi
	}
	if lo, hi := sizes(); hi-lo > 1 || s.n != len(legs) {
		t.Fatalf("after %d joined: groups of %d to %d legs, %d in all; want sizes within one", len(legs), lo, hi, s.n)
	}
	// Empty a group of the larger size, then let legs join again: the
	// first four fill it up to the smaller groups' size.
	for _, l := range legs {
		if l.slot == 1 {
			s.remove(l)
		}
	}
	if len(s.slots[1]) != 0 {
		t.Fatalf("group 1 has %d legs after its legs left, want 0", len(s.slots[1]))
	}
	for range 4 {
		l := &Leg{}
		s.add(l)
		if l.slot != 1 {
			t.Errorf("a leg joined group %d, want the emptied group 1", l.slot)
		}
	}
	if lo, hi := sizes(); hi-lo > 1 {
		t.Errorf("after the re-joins: groups of %d to %d legs, want sizes within one", lo, hi)
	}
	if s.empty() {
		t.Error("shard empty with legs in it")
	}
}
