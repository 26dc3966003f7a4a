package voice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/work"
)

// Callback dialling defaults.
const (
	// DefaultHelperRing is how long the helper's phone rings for a callback.
	DefaultHelperRing = 30 * time.Second
	// DefaultNumberRing is how long the number rings through the trunk.
	DefaultNumberRing = 60 * time.Second
	// DefaultRetryAfter is how long a callback whose number did not
	// answer waits before it is offered again.
	DefaultRetryAfter = 5 * time.Minute
	// DefaultMaxAttempts is how many times a number is called before its
	// callback closes unreachable.
	DefaultMaxAttempts = 3
)

// Events of a callback's history.
const (
	// EventCallbackUnanswered is the event a callback item gets when its
	// number did not answer (busy, no answer, or the trunk failed); its
	// data has the attempt, the cause and when it is offered again.
	EventCallbackUnanswered = "callback_unanswered"
	// EventCallbackUnreachable is the event of a callback closed after
	// its last unanswered attempt.
	EventCallbackUnreachable = "callback_unreachable"
)

// CallbackDialer places the two legs of a callback: the helper's phone,
// then the number through a trunk. Methods are safe for concurrent use.
type CallbackDialer interface {
	// RingHelper rings the helper's phone target (a SIP URI, or a browser
	// target of package softphone) showing number, and returns the leg
	// once it answered.
	RingHelper(ctx context.Context, target, number string) (Leg, error)
	// CallNumber calls number through the trunk for the helper's answered
	// leg (offering its codec where the trunk's media is relayed as it
	// is: the bridge does not transcode) and returns the callee's leg once
	// it answered; errors as Dialer.Dial's.
	CallNumber(ctx context.Context, number string, helper Leg) (Leg, error)
	// Bridge joins the two legs until either ends or ctx ends.
	Bridge(ctx context.Context, helper, callee Leg) error
}

// CallbackOptions configure Callbacks. Work, Store, Dialer and Phone are
// required.
type CallbackOptions struct {
	Work   *work.Service
	Store  store.Store
	Dialer CallbackDialer
	// Phone returns the target that rings a helper: their desk phone's
	// SIP URI, or their browser's; "" when they have neither (they then
	// call the number back themselves).
	Phone func(ctx context.Context, helperID int64) (string, error)
	// HelperRing and NumberRing bound the ringing of each leg; defaults
	// DefaultHelperRing and DefaultNumberRing.
	HelperRing, NumberRing time.Duration
	// RetryAfter is how long a callback whose number did not answer waits
	// in its queue, offered to nobody, before it is offered again; default
	// DefaultRetryAfter.
	RetryAfter time.Duration
	// MaxAttempts is how many unanswered calls of the number close the
	// callback unreachable; default DefaultMaxAttempts.
	MaxAttempts int
	// Talking, if set, is told of each callback as its two legs are
	// bridged (the helper's phone and the number's), before the bridge
	// starts; the function it returns is called once the bridge ended.
	// The node lists desk-phone callbacks on the wallboard with it, as
	// Options.Talking lists the flow's calls.
	Talking func(it store.Item, helper int64, helperLeg, callee Leg) (ended func())
	// Logger receives the logs; nil discards them.
	Logger *slog.Logger
}

// Callbacks calls callers back: when a helper accepts a callback item,
// it rings the helper's desk phone, then the number through the trunk,
// bridges them, and completes the item called-back when the talk ends.
// A number that does not answer sends the item back to its queue, where
// it waits RetryAfter before it is offered again; after MaxAttempts such
// calls it closes unreachable (see the package doc). Create
// it with NewCallbacks, which starts following the router, and call Run
// once: it dials what was accepted since.
type Callbacks struct {
	opt  CallbackOptions
	log  *slog.Logger
	in   chan accepted // callback items accepted, for Run
	stop func()        // stops following the router
}

// NewCallbacks checks opt and returns Callbacks.
func NewCallbacks(opt CallbackOptions) (*Callbacks, error) {
	if opt.Work == nil || opt.Store == nil || opt.Dialer == nil || opt.Phone == nil {
		return nil, errors.New("new callbacks: Work, Store, Dialer and Phone are required")
	}
	if opt.HelperRing <= 0 {
		opt.HelperRing = DefaultHelperRing
	}
	if opt.NumberRing <= 0 {
		opt.NumberRing = DefaultNumberRing
	}
	if opt.RetryAfter <= 0 {
		opt.RetryAfter = DefaultRetryAfter
	}
	if opt.MaxAttempts <= 0 {
		opt.MaxAttempts = DefaultMaxAttempts
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	cb := &Callbacks{opt: opt, log: opt.Logger, in: make(chan accepted, acceptBacklog)}
	cb.stop = opt.Work.Listen(cb.observe)
	return cb, nil
}

// observe takes note of the callback items helpers accept; it runs on
// the work service's listener and must not block.
func (cb *Callbacks) observe(e acd.Event) {
	if e.Type != acd.EventAccepted || e.Channel != acd.Callback {
		return
	}
	select {
	case cb.in <- accepted{e.ItemID, e.HelperID}:
	default:
		cb.log.Warn("callback not dialled: too many at once; the helper calls back", "item_id", e.ItemID)
	}
}

// Restore holds back again the callbacks waiting for their retry when
// the node stopped: a postponement lives in the router only, so after a
// restart each queued callback whose last unanswered attempt names a
// retry time still to come is postponed to it. Call it once, after the
// work service has restored the router and before helpers take work.
func (cb *Callbacks) Restore(ctx context.Context) error {
	now := time.Now()
	var after int64
	for {
		items, err := cb.opt.Store.ListItems(ctx, store.ItemFilter{Channel: acd.Callback,
			State: acd.StateQueued, AfterID: after, Limit: 1000})
		if err != nil {
			return fmt.Errorf("restore callback retries: %w", err)
		}
		for _, it := range items {
			if at, ok := cb.retryAt(ctx, it.ID); ok && at.After(now) {
				if _, err := cb.opt.Work.Router().Postpone(it.ID, at); err != nil {
					cb.log.Warn("callback retry not restored", "item_id", it.ID, "err", err)
				}
			}
			after = it.ID
		}
		if len(items) < 1000 {
			return nil
		}
	}
}

// retryAt is the retry time of the item's last unanswered attempt.
func (cb *Callbacks) retryAt(ctx context.Context, item int64) (time.Time, bool) {
	evs, err := cb.opt.Store.Events(ctx, item)
	if err != nil {
		cb.log.Warn("callback history not read", "item_id", item, "err", err)
		return time.Time{}, false
	}
	for _, e := range slices.Backward(evs) {
		if e.Type != EventCallbackUnanswered {
			continue
		}
		var a unansweredAttempt
		if json.Unmarshal(e.Data, &a) != nil || a.RetryAt == nil {
			return time.Time{}, false
		}
		return *a.RetryAt, true
	}
	return time.Time{}, false
}

// accepted is a callback item a helper took.
type accepted struct{ item, helper int64 }

// acceptBacklog bounds the accepts waiting for Run's loop; the router's
// listener must not block.
const acceptBacklog = 256

// Run calls back the callback items accepted since NewCallbacks until
// ctx ends or drain is closed. When ctx ends the callbacks in progress
// are hung up; after drain they go on to their end. Run returns when
// they have ended, and stops following the router.
func (cb *Callbacks) Run(ctx context.Context, drain <-chan struct{}) {
	defer cb.stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-drain:
			return
		case a := <-cb.in:
			wg.Go(func() { cb.callBack(ctx, a) })
		}
	}
}

// callBack rings the helper, then the number, and bridges them.
func (cb *Callbacks) callBack(ctx context.Context, a accepted) {
	log := cb.log.With("item_id", a.item, "helper", a.helper)
	it, number, target, ok := cb.parties(ctx, a, log)
	if !ok {
		return
	}
	helper, err := cb.ring(ctx, cb.opt.HelperRing, func(ctx context.Context) (Leg, error) {
		return cb.opt.Dialer.RingHelper(ctx, target, number)
	})
	if err != nil {
		log.Info("helper's phone did not answer the callback; they call back themselves", "err", err)
		return
	}
	defer helper.Hangup()
	log.Info("calling back", "target", target)
	callee, err := cb.ring(ctx, cb.opt.NumberRing, func(ctx context.Context) (Leg, error) {
		return cb.opt.Dialer.CallNumber(ctx, number, helper)
	})
	if err != nil {
		cb.unanswered(a, err, log)
		return
	}
	defer callee.Hangup()
	ended := func() {}
	if t := cb.opt.Talking; t != nil {
		ended = t(it, a.helper, helper, callee)
	}
	if err := cb.opt.Dialer.Bridge(ctx, helper, callee); err != nil {
		log.Debug("callback bridge ended", "err", err)
	}
	ended()
	cb.done(a, log)
}

// parties reads the callback item and finds the number to call and the
// helper's phone; a helper without one is left to call back themselves.
func (cb *Callbacks) parties(ctx context.Context, a accepted, log *slog.Logger) (it store.Item, number, target string, ok bool) {
	it, err := cb.opt.Store.Item(ctx, a.item)
	if err != nil {
		log.Warn("callback item not read", "err", err)
		return it, "", "", false
	}
	number = normalizeNumber(it.Subject)
	if number == "" {
		log.Info("callback without a number; the helper handles it")
		return it, "", "", false
	}
	target, err = cb.opt.Phone(ctx, a.helper)
	if err != nil || target == "" {
		log.Info("helper has no phone to ring; they call back themselves", "err", err)
		return it, "", "", false
	}
	return it, number, target, true
}

// ring runs dial with the ring time d.
func (cb *Callbacks) ring(ctx context.Context, d time.Duration, dial func(context.Context) (Leg, error)) (Leg, error) {
	rctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return dial(rctx)
}

// unanswered records an attempt whose number did not answer. Before the
// last attempt the item goes back to its queue, its created time kept,
// and waits RetryAfter there before it is offered again (the router's
// Postpone); after it, the callback closes unreachable.
func (cb *Callbacks) unanswered(a accepted, cause error, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	n := cb.attempts(ctx, a.item, log) + 1
	retry := time.Now().Add(cb.opt.RetryAfter)
	at := unansweredAttempt{Helper: a.helper, Attempt: n, Cause: causeOf(cause)}
	if n < cb.opt.MaxAttempts {
		at.RetryAt = &retry
	}
	data, _ := json.Marshal(at)
	if _, err := cb.opt.Store.AppendEvent(ctx, store.Event{ItemID: a.item, Type: EventCallbackUnanswered, Data: data}); err != nil {
		log.Warn("unanswered callback not recorded", "err", err)
	}
	if at.RetryAt == nil {
		cb.unreachable(ctx, a, n, log)
		return
	}
	log.Info("callback number did not answer; tried again later", "attempt", n, "retry_at", retry, "err", cause)
	if _, err := cb.opt.Work.Router().Postpone(a.item, retry); err != nil {
		log.Warn("unanswered callback not put back in its queue", "err", err)
	}
}

// unansweredAttempt is the data of EventCallbackUnanswered.
type unansweredAttempt struct {
	Helper  int64      `json:"helper_id"`
	Attempt int        `json:"attempt"`
	Cause   string     `json:"cause"`              // busy, declined, no-answer or failed
	RetryAt *time.Time `json:"retry_at,omitempty"` // unset after the last attempt
}

// causeOf names why a number did not answer.
func causeOf(err error) string {
	switch {
	case errors.Is(err, ErrBusy):
		return "busy"
	case errors.Is(err, ErrDeclined):
		return "declined"
	case errors.Is(err, ErrNoAnswer), errors.Is(err, context.DeadlineExceeded):
		return "no-answer"
	}
	return "failed"
}

// attempts counts the unanswered attempts in the item's history.
func (cb *Callbacks) attempts(ctx context.Context, item int64, log *slog.Logger) int {
	evs, err := cb.opt.Store.Events(ctx, item)
	if err != nil {
		log.Warn("callback history not read; counted as the first attempt", "err", err)
		return 0
	}
	n := 0
	for _, e := range evs {
		if e.Type == EventCallbackUnanswered {
			n++
		}
	}
	return n
}

// unreachable closes a callback whose number did not answer its last
// attempt; the helper who tried goes to wrap-up as after any call.
func (cb *Callbacks) unreachable(ctx context.Context, a accepted, n int, log *slog.Logger) {
	data, _ := json.Marshal(map[string]int{"attempts": n})
	if _, err := cb.opt.Store.AppendEvent(ctx, store.Event{ItemID: a.item, Type: EventCallbackUnreachable, Data: data}); err != nil {
		log.Warn("unreachable callback not recorded", "err", err)
	}
	if err := cb.opt.Work.Complete(ctx, a.item, a.helper, acd.OutcomeUnreachable, ""); err != nil {
		log.Warn("unreachable callback not closed", "err", err)
		return
	}
	log.Info("callback closed unreachable", "attempts", n)
}

// done completes the item: the helper talked to the caller.
func (cb *Callbacks) done(a accepted, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := cb.opt.Work.Complete(ctx, a.item, a.helper, acd.OutcomeCalledBack, ""); err != nil {
		log.Warn("callback not completed", "err", err)
		return
	}
	log.Info("called back")
}
