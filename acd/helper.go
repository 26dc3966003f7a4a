package acd

import (
	"slices"
	"time"
)

// HelperConfig is a helper's routing profile.
type HelperConfig struct {
	// ID is the helper's user id; it must not be 0.
	ID int64
	// Queues the helper takes items from; each must exist.
	Queues []string
	// Skills maps a skill name to the helper's level, 1 (low) to 10.
	Skills map[string]int
	// Capacity is how many items per channel at once; a missing channel
	// takes Config.Capacity, then DefaultCapacity. Zero means none.
	Capacity map[Channel]int
}

// Counters are a helper's tallies since they were last reset.
type Counters struct {
	Offered   int
	Accepted  int
	Rejected  int
	Missed    int // offers that timed out (RONA)
	Completed int
	TalkTime  time.Duration // voice: accepted to completed, less hold
}

// offer is a reservation of an item for a helper until a deadline.
type offer struct {
	it       *item
	h        *helper
	deadline time.Time
	timer    *timer
}

// helper is the router's state of one helper.
type helper struct {
	id       int64
	status   Status
	reason   string
	queues   []*queue
	skills   map[string]int
	capacity [numChannels]int

	load     [numChannels]int // active items per channel
	active   map[int64]*item
	offer    *offer  // at most one pending offer
	wrapping []*item // items in wrap-up, closed when it ends
	wrap     *timer  // wrap-up end
	delay    *timer  // reject, busy or no-answer delay end
	lastIdle time.Time
	missed   int // offers timed out in a row
	counters Counters
	sticky   itemHeap // items waiting for this helper alone

	slots    [][numChannels]int // per queue of queues: position in voice (0) and idle[ch] sets, -1 when out
	idleMask uint8              // bit chIndex(ch) set: in their queues' idle[ch] sets
	inVoice  bool               // in their queues' voice sets
	dirty    bool               // on the dispatch list
	mark     uint64             // candidate dedup stamp
}

func (h *helper) blocked() bool { return h.wrap != nil || h.delay != nil }

// onVoice reports whether the helper is on a call or being rung for one.
func (h *helper) onVoice() bool {
	return h.load[0] > 0 || (h.offer != nil && h.offer.it.Channel.Live())
}

// canOffer reports whether the helper may get a new offer of some channel.
func (h *helper) canOffer() bool {
	if h.status != StatusAvailable || h.blocked() || h.offer != nil || h.onVoice() {
		return false
	}
	for i := range numChannels {
		if h.load[i] < h.capacity[i] {
			return true
		}
	}
	return false
}

// voiceReady reports whether the helper may get a call now, pending letter
// offer or not: a letter never waits in front of a call.
func (h *helper) voiceReady() bool {
	return h.status == StatusAvailable && !h.blocked() && !h.onVoice() && h.load[0] < h.capacity[0]
}

// canTake reports whether the helper has room for one more item of ch.
func (h *helper) canTake(ch Channel) bool {
	if h.onVoice() {
		return false
	}
	i := chIndex(ch)
	n := h.load[i]
	if h.offer != nil && h.offer.it.Channel == ch {
		n++
	}
	return n < h.capacity[i]
}

func (h *helper) satisfies(req []Skill) bool {
	for _, s := range req {
		if h.skills[s.Name] < s.Level {
			return false
		}
	}
	return true
}

func (h *helper) totalLoad() int {
	n := 0
	for _, l := range h.load {
		n += l
	}
	return n
}

// HelperInfo is a snapshot of a helper for consoles and statistics.
type HelperInfo struct {
	ID       int64
	Status   Status
	Reason   string // why away
	Busy     bool   // on a call, or no room for any channel
	Load     map[Channel]int
	Capacity map[Channel]int
	Queues   []string
	Offer    int64   // the item offered and not yet answered, 0 when none
	Active   []int64 // items being worked on
	WrapUp   bool
	LastIdle time.Time
	Missed   int // offers timed out in a row
	Counters Counters
}

func (h *helper) info() HelperInfo {
	hi := HelperInfo{
		ID: h.id, Status: h.status, Reason: h.reason, WrapUp: h.wrap != nil,
		LastIdle: h.lastIdle, Missed: h.missed, Counters: h.counters,
		Load: map[Channel]int{}, Capacity: map[Channel]int{},
	}
	busy := true
	for _, ch := range Channels {
		i := chIndex(ch)
		if h.load[i] > 0 {
			hi.Load[ch] = h.load[i]
		}
		hi.Capacity[ch] = h.capacity[i]
		if h.load[i] < h.capacity[i] {
			busy = false
		}
	}
	hi.Busy = busy || h.load[0] > 0
	for _, q := range h.queues {
		hi.Queues = append(hi.Queues, q.cfg.Name)
	}
	if h.offer != nil {
		hi.Offer = h.offer.it.ID
	}
	for id := range h.active {
		hi.Active = append(hi.Active, id)
	}
	slices.Sort(hi.Active)
	return hi
}

// helperSet is an ordered set with O(1) add and remove and no map: each
// member keeps its position in a slot of its own (helper.slots), which the
// caller passes in.
type helperSet struct {
	list  []*helper
	slots []*int // slots[i] is where list[i] keeps its position
}

func (s *helperSet) add(h *helper, slot *int) {
	if *slot >= 0 {
		return
	}
	*slot = len(s.list)
	s.list = append(s.list, h)
	s.slots = append(s.slots, slot)
}

func (s *helperSet) remove(slot *int) {
	i := *slot
	if i < 0 {
		return
	}
	last := len(s.list) - 1
	s.list[i], s.slots[i] = s.list[last], s.slots[last]
	*s.slots[i] = i
	s.list[last], s.slots[last] = nil, nil
	s.list, s.slots = s.list[:last], s.slots[:last]
	*slot = -1
}

func (s *helperSet) has(h *helper, slot int) bool {
	return slot >= 0 && slot < len(s.list) && s.list[slot] == h
}
