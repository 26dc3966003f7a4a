package acd

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Errors callers branch on. Router methods wrap them with the operation and
// subject; test with errors.Is.
var (
	// ErrClosed means the router was closed.
	ErrClosed = errors.New("router closed")
	// ErrInvalid means an argument or configuration value is not allowed.
	ErrInvalid = errors.New("invalid")
	// ErrUnknownItem means no open item has the id.
	ErrUnknownItem = errors.New("unknown item")
	// ErrUnknownHelper means no helper has the id.
	ErrUnknownHelper = errors.New("unknown helper")
	// ErrUnknownQueue means no queue has the name.
	ErrUnknownQueue = errors.New("unknown queue")
	// ErrDuplicate means an item with the id is already open.
	ErrDuplicate = errors.New("item already open")
	// ErrState means the item or helper is not in a state that allows the
	// operation (completing a queued item, accepting a closed one).
	ErrState = errors.New("wrong state")
	// ErrNoOffer means the helper holds no offer of the item: it timed out,
	// was withdrawn, or another helper accepted it first.
	ErrNoOffer = errors.New("no such offer")
	// ErrQueueFull means the queue holds MaxLength items already.
	ErrQueueFull = errors.New("queue full")
	// ErrNoHelpers means no helper of the queue is logged in and its policy
	// is NoHelpersReject.
	ErrNoHelpers = errors.New("no helpers logged in")
	// ErrUnavailable means the target helper of a transfer is offline.
	ErrUnavailable = errors.New("helper unavailable")
)

// EventType names a transition. The names are stored as each item's history
// (store.Event.Type) and sent to consoles.
type EventType string

// The events. Item events carry ItemID; helper and queue events have
// ItemID 0.
const (
	EventEnqueued    EventType = "enqueued"     // entered a queue (also after a transfer or take-back)
	EventOffered     EventType = "offered"      // offered to HelperID until Deadline
	EventAccepted    EventType = "accepted"     // HelperID took it; Duration is the wait in the queue
	EventRejected    EventType = "rejected"     // HelperID declined; Reason "declined" or "busy"
	EventTimedOut    EventType = "timed_out"    // HelperID did not answer by the deadline (RONA)
	EventWithdrawn   EventType = "withdrawn"    // the offer to HelperID ended without their answer
	EventConnected   EventType = "connected"    // voice: media bridged; Duration since accepted
	EventHeld        EventType = "held"         // voice: caller put on hold
	EventUnheld      EventType = "unheld"       // voice: hold ended; Duration is this hold
	EventReplied     EventType = "replied"      // the helper answered a letter or chat line
	EventTakenBack   EventType = "taken_back"   // no reply in time: taken from HelperID
	EventRecalled    EventType = "recalled"     // a supervisor took it from HelperID
	EventTransferred EventType = "transferred"  // moved from FromQueue to Queue (and HelperID, if directed)
	EventEscalated   EventType = "escalated"    // an escalation step widened who may take it
	EventMaxWait     EventType = "max_wait"     // waited the queue's MaxWait; Duration is the wait
	EventNoHelpers   EventType = "no_helpers"   // the last helper of a NoHelpersReject queue logged out
	EventAbandoned   EventType = "abandoned"    // the caller hung up while waiting
	EventCompleted   EventType = "completed"    // HelperID finished; Duration is the handle time, Hold the hold time
	EventWrapUpEnded EventType = "wrapup_ended" // after-work ended; Duration is the wrap-up time
	EventClosed      EventType = "closed"       // the item's last event, with its Outcome

	EventLoggedIn  EventType = "logged_in"  // helper came online
	EventLoggedOut EventType = "logged_out" // helper went offline
	EventPaused    EventType = "paused"     // helper set away, with Reason
	EventResumed   EventType = "resumed"    // helper available again after away

	EventQueueOpened EventType = "queue_opened" // business hours began
	EventQueueClosed EventType = "queue_closed" // business hours ended
)

// Event is one transition. Fields that do not apply are zero. Seq orders
// all events of a router; At is the router's time of the transition.
type Event struct {
	Seq      uint64
	Type     EventType
	At       time.Time
	ItemID   int64
	HelperID int64
	Queue    string
	Channel  Channel
	State    State // the item's state after the event

	Created  time.Time     // the item's created time, never changed
	QueuedAt time.Time     // when the item entered its current queue
	Deadline time.Time     // offers: when the offer times out
	Duration time.Duration // see each event type
	Hold     time.Duration // completed: total hold time

	FromQueue string  // transfers
	Reason    string  // rejects, withdrawals, pauses, escalations
	Outcome   Outcome // completed and closed
}

// Sink receives every event of a router in Seq order. Emit is called outside
// the router's lock, so it may call the router; it must not call Close, and
// it should return quickly: the call that caused the event waits for it.
type Sink interface {
	Emit(Event)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(Event)

// Emit calls f(e).
func (f SinkFunc) Emit(e Event) { f(e) }

// Subscription receives the events of one item in order, from the moment it
// was made until the item's EventClosed. It buffers without limit, so a slow
// reader never holds the router back. Its methods are safe for concurrent
// use.
type Subscription struct {
	r      *Router
	itemID int64
	notify chan struct{} // one token when q grew or the subscription ended

	mu   sync.Mutex
	q    []Event // guarded by mu
	done error   // guarded by mu; set when no more events will come
}

// ErrEnded is what Subscription.Next returns after the item's EventClosed
// has been read, or after Close.
var ErrEnded = errors.New("subscription ended")

func (s *Subscription) push(e Event) {
	s.mu.Lock()
	s.q = append(s.q, e)
	if e.Type == EventClosed && e.ItemID == s.itemID {
		s.done = ErrEnded
	}
	s.mu.Unlock()
	s.wake()
}

func (s *Subscription) end(err error) {
	s.mu.Lock()
	if s.done == nil {
		s.done = err
	}
	s.mu.Unlock()
	s.wake()
}

func (s *Subscription) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Next blocks until the next event of the item, the end of the subscription
// (ErrEnded, or ErrClosed when the router closed) or the end of ctx.
func (s *Subscription) Next(ctx context.Context) (Event, error) {
	for {
		s.mu.Lock()
		if len(s.q) > 0 {
			e := s.q[0]
			s.q = s.q[1:]
			s.mu.Unlock()
			return e, nil
		}
		done := s.done
		s.mu.Unlock()
		if done != nil {
			return Event{}, done
		}
		select {
		case <-s.notify:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// Wait returns the first next event for which match is true, skipping the
// others; it blocks like Next. A voice flow waits for its connect with
// Wait(ctx, Is(EventAccepted, EventClosed)).
func (s *Subscription) Wait(ctx context.Context, match func(Event) bool) (Event, error) {
	for {
		e, err := s.Next(ctx)
		if err != nil || match(e) {
			return e, err
		}
	}
}

// Is returns a matcher for Subscription.Wait that accepts events of the
// given types.
func Is(types ...EventType) func(Event) bool {
	return func(e Event) bool {
		for _, t := range types {
			if e.Type == t {
				return true
			}
		}
		return false
	}
}

// Close ends the subscription; Next returns what is buffered, then
// ErrEnded. Close is idempotent.
func (s *Subscription) Close() {
	s.r.unsubscribe(s)
	s.end(ErrEnded)
}
