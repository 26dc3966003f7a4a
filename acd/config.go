package acd

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"time"
)

// Defaults for Config and QueueConfig fields left zero.
const (
	DefaultVoiceOfferTimeout  = 20 * time.Second
	DefaultLetterOfferTimeout = 60 * time.Second
	DefaultMaxMissed          = 3
	DefaultRejectDelay        = 2 * time.Second
	DefaultBusyDelay          = 10 * time.Second
	DefaultNoAnswerDelay      = 5 * time.Second
	DefaultAvoidFor           = 2 * time.Minute
	DefaultDirectFor          = time.Minute
	DefaultHistorySize        = 50
)

// DefaultCapacity is how many items of each channel a helper takes at once
// when neither the helper nor Config.Capacity says otherwise.
var DefaultCapacity = map[Channel]int{
	Voice:     1,
	Chat:      3,
	Telegram:  3,
	Email:     5,
	Form:      5,
	Voicemail: 5,
	Callback:  5,
}

// Config configures a Router. The zero value of every field means its
// default; only Queues usually needs filling in.
type Config struct {
	// Clock supplies the time and timers; nil means the time package, which
	// testing/synctest fakes inside a bubble.
	Clock Clock
	// Sink receives every event in order, outside the router's lock; nil
	// means events are only returned and sent to subscriptions.
	Sink Sink
	// Logger receives Debug lines per transition and Info lines for pauses;
	// nil discards.
	Logger *slog.Logger
	// Rand drives the random strategy; nil means a source seeded from the
	// runtime. Inject a seeded one for reproducible tests.
	Rand *rand.Rand

	// Capacity overrides DefaultCapacity per channel for helpers that do
	// not set their own.
	Capacity map[Channel]int
	// OfferTimeout is how long an offer waits for an answer, per channel;
	// default 20 s for voice and 60 s for the others. Queues may override.
	OfferTimeout map[Channel]time.Duration
	// MaxMissed is how many offers in a row may time out before the helper
	// is set away with ReasonMissedOffers; default 3, negative disables.
	MaxMissed int
	// RejectDelay, BusyDelay and NoAnswerDelay hold a helper back from new
	// offers after they decline, their phone is busy, or an offer times out;
	// defaults 2 s, 10 s and 5 s, negative means none.
	RejectDelay   time.Duration
	BusyDelay     time.Duration
	NoAnswerDelay time.Duration
	// AvoidFor is how long a recalled or taken-back item is not offered to
	// the helper it was taken from; default 2 min.
	AvoidFor time.Duration
	// DirectFor is how long an item transferred to a helper waits for that
	// helper alone before any helper of its queue may take it; default 1 min.
	DirectFor time.Duration
	// HistorySize is how many recent answers per queue feed the estimated
	// wait; default 50.
	HistorySize int

	// Queues are the queues the router starts with; SetQueue adds more.
	Queues []QueueConfig
}

// Strategy decides which of several free helpers gets an item.
type Strategy string

// The strategies. Whatever the strategy, a helper who becomes free takes the
// best item waiting for them: voice first, then priority, then age.
const (
	// LongestIdle offers to the helper with the least load, then the one
	// idle longest. It is the default.
	LongestIdle Strategy = "longest-idle"
	// RoundRobin offers to the next helper after the last one chosen, in
	// helper id order.
	RoundRobin Strategy = "round-robin"
	// LeastBusy offers to the helper who completed fewest items, then the
	// one with least talk time, since counters were last reset.
	LeastBusy Strategy = "least-busy"
	// RingAll offers to every eligible helper at once; the first accept
	// wins and the other offers are withdrawn.
	RingAll Strategy = "ring-all"
	// BySkill offers to the helper with the highest levels in the item's
	// required skills, then the one idle longest.
	BySkill Strategy = "by-skill"
	// Random offers to a helper chosen by Config.Rand.
	Random Strategy = "random"
)

// Valid reports whether s is a known strategy or empty (the default).
func (s Strategy) Valid() bool {
	switch s {
	case "", LongestIdle, RoundRobin, LeastBusy, RingAll, BySkill, Random:
		return true
	}
	return false
}

// NoHelpersPolicy says what Enqueue does when no helper of the queue is
// logged in.
type NoHelpersPolicy string

// The no-helper policies.
const (
	// NoHelpersWait queues the item anyway; it is the default.
	NoHelpersWait NoHelpersPolicy = "wait"
	// NoHelpersReject refuses the item with ErrNoHelpers, so the channel
	// can fall back at once (voicemail, callback, auto-reply); when the last
	// helper logs out, every waiting item gets EventNoHelpers to the same
	// end.
	NoHelpersReject NoHelpersPolicy = "reject"
)

// EscalationStep widens who may take an item after it has waited After in
// its queue. Steps apply in order and add up.
type EscalationStep struct {
	// After is the wait in the queue, counted from when the item entered
	// it; each step's After must exceed the previous one's.
	After time.Duration
	// MaxLevel, when positive, lowers every required skill level to at
	// most MaxLevel.
	MaxLevel int
	// DropSkills removes the skill requirements altogether.
	DropSkills bool
	// Queues are other queues whose helpers may now take the item too.
	Queues []string
	// PriorityBoost is added to the item's priority.
	PriorityBoost int
}

// QueueConfig configures one queue.
type QueueConfig struct {
	// Name identifies the queue; it must not be empty.
	Name string
	// Strategy chooses among free helpers; default LongestIdle.
	Strategy Strategy
	// MaxLength is how many items may wait at once; Enqueue and Transfer
	// beyond it fail with ErrQueueFull. Zero means no limit.
	MaxLength int
	// MaxWait, when positive, makes the router emit EventMaxWait once an
	// item has waited this long; what follows is the channel's business.
	MaxWait time.Duration
	// SLA, when positive, sets the due time of items that have none:
	// created time plus SLA.
	SLA time.Duration
	// NoHelpers is the policy when no helper of the queue is logged in.
	NoHelpers NoHelpersPolicy
	// Hours are the business hours; nil means always open. Items of a
	// closed queue wait and are not offered unless RouteClosed is set.
	Hours *Hours
	// RouteClosed offers items while the queue is closed, to helpers who
	// happen to be working.
	RouteClosed bool
	// OfferTimeout overrides Config.OfferTimeout per channel.
	OfferTimeout map[Channel]time.Duration
	// WrapUp is the after-work time per channel before the helper gets the
	// next offer; missing means none.
	WrapUp map[Channel]time.Duration
	// NoReply, per channel, takes an accepted item back and offers it
	// again when the helper has not replied (Router.Replied) for this long.
	// Missing means never; voice ignores it.
	NoReply map[Channel]time.Duration
	// Escalation steps, in order of After.
	Escalation []EscalationStep
}

func (c *Config) normalize() error {
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Rand == nil {
		c.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if c.MaxMissed == 0 {
		c.MaxMissed = DefaultMaxMissed
	}
	c.RejectDelay = orDefault(c.RejectDelay, DefaultRejectDelay)
	c.BusyDelay = orDefault(c.BusyDelay, DefaultBusyDelay)
	c.NoAnswerDelay = orDefault(c.NoAnswerDelay, DefaultNoAnswerDelay)
	c.AvoidFor = orDefault(c.AvoidFor, DefaultAvoidFor)
	c.DirectFor = orDefault(c.DirectFor, DefaultDirectFor)
	c.Capacity = maps.Clone(c.Capacity)
	c.OfferTimeout = maps.Clone(c.OfferTimeout)
	if c.HistorySize <= 0 {
		c.HistorySize = DefaultHistorySize
	}
	for ch, n := range c.Capacity {
		if !ch.Valid() || n < 0 {
			return fmt.Errorf("config: capacity %q: %d: %w", ch, n, ErrInvalid)
		}
	}
	for ch, d := range c.OfferTimeout {
		if !ch.Valid() || d <= 0 {
			return fmt.Errorf("config: offer timeout %q: %v: %w", ch, d, ErrInvalid)
		}
	}
	return nil
}

// orDefault maps zero to def and a negative duration to zero (none).
func orDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// own replaces the maps and slices of q by copies, so the caller may reuse
// its own.
func (q *QueueConfig) own() {
	q.OfferTimeout = maps.Clone(q.OfferTimeout)
	q.WrapUp = maps.Clone(q.WrapUp)
	q.NoReply = maps.Clone(q.NoReply)
	q.Escalation = slices.Clone(q.Escalation)
	for i := range q.Escalation {
		q.Escalation[i].Queues = slices.Clone(q.Escalation[i].Queues)
	}
	if q.Hours != nil {
		h := *q.Hours
		h.Week = map[time.Weekday][]Period{}
		for d, ps := range q.Hours.Week {
			h.Week[d] = slices.Clone(ps)
		}
		h.Holidays = slices.Clone(h.Holidays)
		q.Hours = &h
	}
}

func (q *QueueConfig) validate() error {
	q.own()
	if q.Name == "" {
		return errors.New("queue: empty name")
	}
	if !q.Strategy.Valid() {
		return fmt.Errorf("queue %s: strategy %q: %w", q.Name, q.Strategy, ErrInvalid)
	}
	if q.Strategy == "" {
		q.Strategy = LongestIdle
	}
	switch q.NoHelpers {
	case "":
		q.NoHelpers = NoHelpersWait
	case NoHelpersWait, NoHelpersReject:
	default:
		return fmt.Errorf("queue %s: no-helpers policy %q: %w", q.Name, q.NoHelpers, ErrInvalid)
	}
	if q.MaxLength < 0 || q.MaxWait < 0 || q.SLA < 0 {
		return fmt.Errorf("queue %s: negative limit: %w", q.Name, ErrInvalid)
	}
	if err := validDurations(q.OfferTimeout, true); err != nil {
		return fmt.Errorf("queue %s: offer timeout: %w", q.Name, err)
	}
	if err := validDurations(q.WrapUp, false); err != nil {
		return fmt.Errorf("queue %s: wrap-up: %w", q.Name, err)
	}
	if err := validDurations(q.NoReply, false); err != nil {
		return fmt.Errorf("queue %s: no-reply: %w", q.Name, err)
	}
	if q.Hours != nil {
		if err := q.Hours.validate(); err != nil {
			return fmt.Errorf("queue %s: %w", q.Name, err)
		}
	}
	return q.validateSteps()
}

func (q *QueueConfig) validateSteps() error {
	var last time.Duration
	for i, s := range q.Escalation {
		if s.After <= last {
			return fmt.Errorf("queue %s: escalation step %d: after %v not past %v: %w",
				q.Name, i, s.After, last, ErrInvalid)
		}
		if s.MaxLevel < 0 {
			return fmt.Errorf("queue %s: escalation step %d: negative level: %w", q.Name, i, ErrInvalid)
		}
		last = s.After
	}
	return nil
}

func validDurations(m map[Channel]time.Duration, positive bool) error {
	for ch, d := range m {
		if !ch.Valid() || d < 0 || (positive && d == 0) {
			return fmt.Errorf("%q: %v: %w", ch, d, ErrInvalid)
		}
	}
	return nil
}
