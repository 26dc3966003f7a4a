package media

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
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

// Legs fill a shard's slots slotTarget at a time in slotOrder; once all
// slots hold that many they stay even as legs join and leave, and a slot
// that empties fills again first.
func TestPacerSlotsFill(t *testing.T) {
	s := &pacerShard{wake: make(chan struct{}, 1)}
	join := func() *Leg {
		l := &Leg{}
		s.add(l)
		return l
	}
	for i := range 3*slotTarget + 1 {
		if l, want := join(), slotOrder[i/slotTarget]; l.slot != want {
			t.Fatalf("leg %d joined slot %d, want %d", i, l.slot, want)
		}
	}
	if _, ok := s.nextBusy(0); !ok || s.n != 3*slotTarget+1 {
		t.Fatalf("%d legs in the shard, want %d", s.n, 3*slotTarget+1)
	}

	var legs []*Leg
	for range pacerSlots*slotTarget + 2*pacerSlots + 2 - s.n { // two slots get one more
		legs = append(legs, join())
	}
	sizes := func() (lo, hi int) {
		lo, hi = len(s.slots[0]), len(s.slots[0])
		for _, g := range s.slots {
			lo, hi = min(lo, len(g)), max(hi, len(g))
		}
		return lo, hi
	}
	if lo, hi := sizes(); hi-lo > 1 || lo != slotTarget+2 {
		t.Fatalf("after %d joined: slots of %d to %d legs; want %d or one more", s.n, lo, hi, slotTarget+2)
	}
	// Empty a slot, then let legs join again: they fill it up to the
	// others' size first.
	emptied := legs[len(legs)-1].slot
	for _, l := range slices.Clone(s.slots[emptied]) {
		s.remove(l)
	}
	if len(s.slots[emptied]) != 0 {
		t.Fatalf("slot %d has %d legs after its legs left, want 0", emptied, len(s.slots[emptied]))
	}
	for range slotTarget + 2 {
		if l := join(); l.slot != emptied {
			t.Fatalf("a leg joined slot %d, want the emptied slot %d", l.slot, emptied)
		}
	}
	if lo, hi := sizes(); hi-lo > 1 {
		t.Errorf("after the re-joins: slots of %d to %d legs, want sizes within one", lo, hi)
	}
}

// slotOrder holds every slot once, and the slots a shard with few legs
// uses are spread evenly over the frame.
func TestPacerSlotOrder(t *testing.T) {
	seen := map[int]bool{}
	for _, g := range slotOrder {
		if g < 0 || g >= pacerSlots || seen[g] {
			t.Fatalf("slotOrder %v: want each of 0 to %d once", slotOrder, pacerSlots-1)
		}
		seen[g] = true
	}
	if len(seen) != pacerSlots {
		t.Fatalf("slotOrder %v: want each of 0 to %d once", slotOrder, pacerSlots-1)
	}
	for _, k := range []int{2, 4} {
		first := slices.Sorted(slices.Values(slotOrder[:k]))
		for i, g := range first {
			next := first[(i+1)%k]
			if gap := (next - g + pacerSlots) % pacerSlots; gap != pacerSlots/k {
				t.Errorf("first %d slots of %v: %v, a gap of %d slots; want %d", k, slotOrder, first, gap, pacerSlots/k)
			}
		}
	}
}

// A shard that wakes late sends the slots that fell due, in order, and
// one that overslept by more than a frame sends each slot once.
func TestPacerDueSlots(t *testing.T) {
	for _, tc := range []struct {
		name           string
		next, now      int64
		wantFrom, want int64
	}{
		{"on time", 40, 40, 40, 40},
		{"early", 40, 39, 40, 39},
		{"three slots late", 40, 43, 40, 43},
		{"a frame late less a slot", 40, 40 + pacerSlots - 1, 40, 40 + pacerSlots - 1},
		{"a frame late", 40, 40 + pacerSlots, 41, 40 + pacerSlots},
		{"five frames late", 40, 40 + 5*pacerSlots, 41 + 4*pacerSlots, 40 + 5*pacerSlots},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from, last := dueSlots(tc.next, tc.now)
			if from != tc.wantFrom || last != tc.want {
				t.Errorf("dueSlots(%d, %d) = %d, %d; want %d, %d", tc.next, tc.now, from, last, tc.wantFrom, tc.want)
			}
		})
	}
}

func TestPacerTurns(t *testing.T) {
	for _, tc := range []struct {
		from, to int64
		g        int
		want     int64
	}{
		{0, 0, 0, 0},
		{0, 1, 0, 1},
		{1, pacerSlots, 0, 0},
		{1, pacerSlots + 1, 0, 1},
		{0, 3 * pacerSlots, 7, 3},
		{8, 3 * pacerSlots, 7, 2},
		{7, 3*pacerSlots + 7, 7, 3},
		{-pacerSlots, 0, 3, 1},
		{41, 41 + 5*pacerSlots, 19, 5},
	} {
		if got := turns(tc.from, tc.to, tc.g); got != tc.want {
			t.Errorf("turns(%d, %d, %d) = %d, want %d", tc.from, tc.to, tc.g, got, tc.want)
		}
	}
}

// A shard that overslept moves each leg's stream clock on by the frames
// it missed, so the timestamps keep following the wall clock.
func TestPacerSkipKeepsStreamClock(t *testing.T) {
	s := &pacerShard{wake: make(chan struct{}, 1)}
	var legs []*Leg
	for range slotTarget + 1 { // the last joins slotOrder[1]
		l := &Leg{}
		s.add(l)
		l.ts, l.slotAt, l.marker = 1000, time.Unix(100, 0), false
		legs = append(legs, l)
	}
	first, second := legs[0], legs[slotTarget]
	if first.slot != slotOrder[0] || second.slot != slotOrder[1] {
		t.Fatalf("legs in slots %d and %d, want %d and %d", first.slot, second.slot, slotOrder[0], slotOrder[1])
	}
	// Missed: slot slotOrder[0] three times, slotOrder[1] twice.
	from := int64(slotOrder[1]) + 1
	s.skip(from, from+3*pacerSlots-1)
	for _, tc := range []struct {
		l      *Leg
		frames int64
	}{{first, 3}, {second, 2}} {
		wantTS := uint32(1000) + uint32(tc.frames)*FrameSamples
		if tc.l.ts != wantTS || !tc.l.marker || !tc.l.slotAt.Equal(time.Unix(100, 0).Add(time.Duration(tc.frames)*FrameDuration)) {
			t.Errorf("slot %d: timestamp %d, marker %v, slot began %v; want %d, true, %d frames on", tc.l.slot, tc.l.ts, tc.l.marker, tc.l.slotAt, wantTS, tc.frames)
		}
	}
}

// The shard's grid skips empty slots and reports an empty shard.
func TestPacerNextBusy(t *testing.T) {
	s := &pacerShard{wake: make(chan struct{}, 1)}
	if _, ok := s.nextBusy(7); ok {
		t.Fatal("nextBusy found a slot in an empty shard")
	}
	l := &Leg{}
	s.add(l)
	for _, k := range []int64{0, int64(l.slot), int64(l.slot) + 1, 5 * pacerSlots} {
		got, ok := s.nextBusy(k)
		if !ok || got < k || got%pacerSlots != int64(l.slot) || got-k >= pacerSlots {
			t.Errorf("nextBusy(%d) = %d, %v; want the first slot from %d that is slot %d of a frame", k, got, ok, k, l.slot)
		}
	}
}

// Both kinds of slot clock sleep until the time asked, never less, and
// stop sleeping when closed or when the pacer is done.
func TestSlotClock(t *testing.T) {
	for _, tc := range []struct {
		name  string
		clock func() *slotClock
	}{
		{"default", newSlotClock},
		{"timer", func() *slotClock { return &slotClock{} }},
		{"timerfd failed", func() *slotClock {
			c := newSlotClock()
			c.close() // as if the descriptor broke: the clock falls back to a timer
			return c
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.clock()
			done := make(chan struct{})
			for range 5 {
				at := time.Now().Add(2 * time.Millisecond)
				if !c.sleepUntil(at, done) {
					t.Fatal("sleepUntil returned false on an open clock")
				}
				if now := time.Now(); now.Before(at) {
					t.Fatalf("sleepUntil woke %v before the time asked", at.Sub(now))
				}
			}
			if !c.sleepUntil(time.Now().Add(-time.Second), done) {
				t.Error("sleepUntil a past time returned false")
			}
			woke := make(chan bool)
			go func() { woke <- c.sleepUntil(time.Now().Add(time.Hour), done) }()
			close(done)
			c.close()
			select {
			case ok := <-woke:
				if ok {
					t.Error("sleepUntil reported a slot reached after the clock closed")
				}
			case <-time.After(guard):
				t.Fatal("sleepUntil still asleep after close")
			}
		})
	}
}

// Sending a slot's frames and sleeping until the next slot allocate
// nothing, so a pacer of thousands of legs makes no garbage to collect.
func TestPacerSendAllocatesNothing(t *testing.T) {
	p := newPeer(t, 1)
	s := &pacerShard{wake: make(chan struct{}, 1)}
	clip := NewClip(tone(440, 4*FrameSamples))
	for range 8 {
		l := newTestLeg(t, LegConfig{Remote: p.addr()})
		l.mu.Lock()
		l.play = &playback{src: clip.Loop(), done: make(chan struct{})}
		l.mu.Unlock()
		s.add(l)
	}
	w := &pacerWork{frame: make([]int16, FrameSamples), payload: make([]byte, 0, FrameSamples)}
	s.send(0, w) // the batch grows once
	if a := testing.AllocsPerRun(100, func() { s.send(0, w) }); a != 0 {
		t.Errorf("a slot's sends: %v allocations, want 0", a)
	}

	c := newSlotClock()
	defer c.close()
	if c.file == nil {
		t.Log("no timerfd here: measuring the timer clock")
	}
	done := make(chan struct{})
	if a := testing.AllocsPerRun(20, func() { c.sleepUntil(time.Now().Add(100*time.Microsecond), done) }); a != 0 {
		t.Errorf("sleeping until a slot: %v allocations, want 0", a)
	}
}

// Close stops a pacer whose legs are still playing.
func TestPacerCloseWhilePlaying(t *testing.T) {
	pacer := NewPacer()
	p := newPeer(t, 1)
	l := newTestLeg(t, LegConfig{Remote: p.addr(), Pacer: pacer})
	go l.Play(context.Background(), Silence())
	p.recv()
	closed := make(chan struct{})
	go func() {
		pacer.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(guard):
		t.Fatal("Close did not return while a leg played")
	}
}

// BenchmarkSlotClockLateness reports how late each kind of slot clock
// wakes for a slot up to 2 ms ahead (p50 and p99 of the lateness, each
// wake-up on its own: a late one does not make the next late), which is
// the jitter the clock itself gives every packet of the slot.
//
//	go test -run '^$' -bench SlotClockLateness -benchtime 2000x ./sip/media/
func BenchmarkSlotClockLateness(b *testing.B) {
	for _, tc := range []struct {
		name  string
		clock func() *slotClock
	}{
		{"timerfd", newSlotClock},
		{"time.Timer", func() *slotClock { return &slotClock{} }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := tc.clock()
			defer c.close()
			if tc.name == "timerfd" && c.file == nil {
				b.Skip("no timerfd here")
			}
			done := make(chan struct{})
			late := make([]time.Duration, 0, b.N)
			for b.Loop() {
				next := time.Now().Add(rand.N(2 * time.Millisecond))
				c.sleepUntil(next, done)
				late = append(late, time.Since(next))
			}
			slices.Sort(late)
			b.ReportMetric(float64(late[len(late)/2].Microseconds()), "µs-late-p50")
			b.ReportMetric(float64(late[len(late)*99/100].Microseconds()), "µs-late-p99")
		})
	}
}
