package voice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
)

// EventCallbackUnanswered is the event a callback item gets when its
// number did not answer; the item goes back to its queue.
const EventCallbackUnanswered = "callback_unanswered"

// CallbackDialer places the two legs of a callback: the helper's phone,
// then the number through a trunk. Methods are safe for concurrent use.
type CallbackDialer interface {
	// RingHelper rings the helper's phone target (a SIP URI) showing
	// number, and returns the leg once it answered.
	RingHelper(ctx context.Context, target, number string) (Leg, error)
	// CallNumber calls number through the trunk and returns the leg once
	// it answered; errors as Dialer.Dial's.
	CallNumber(ctx context.Context, number string) (Leg, error)
	// Bridge joins the two legs until either ends or ctx ends.
	Bridge(ctx context.Context, helper, callee Leg) error
}

// CallbackOptions configure Callbacks. Work, Store, Dialer and Phone are
// required.
type CallbackOptions struct {
	Work   *work.Service
	Store  store.Store
	Dialer CallbackDialer
	// Phone returns the SIP URI of a helper's desk phone; "" when they
	// have none (they then call the number back themselves).
	Phone func(ctx context.Context, helperID int64) (string, error)
	// HelperRing and NumberRing bound the ringing of each leg; defaults
	// DefaultHelperRing and DefaultNumberRing.
	HelperRing, NumberRing time.Duration
	// Logger receives the logs; nil discards them.
	Logger *slog.Logger
}

// Callbacks calls callers back: when a helper accepts a callback item,
// it rings the helper's desk phone, then the number through the trunk,
// bridges them, and completes the item called-back when the talk ends;
// a number that does not answer sends the item back to its queue. Create
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
	number, target, ok := cb.parties(ctx, a, log)
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
		return cb.opt.Dialer.CallNumber(ctx, number)
	})
	if err != nil {
		cb.unanswered(a, err, log)
		return
	}
	defer callee.Hangup()
	if err := cb.opt.Dialer.Bridge(ctx, helper, callee); err != nil {
		log.Debug("callback bridge ended", "err", err)
	}
	cb.done(a, log)
}

// parties finds the number to call and the helper's phone; a helper
// without a desk phone is left to call back themselves.
func (cb *Callbacks) parties(ctx context.Context, a accepted, log *slog.Logger) (number, target string, ok bool) {
	it, err := cb.opt.Store.Item(ctx, a.item)
	if err != nil {
		log.Warn("callback item not read", "err", err)
		return "", "", false
	}
	number = normalizeNumber(it.Subject)
	if number == "" {
		log.Info("callback without a number; the helper handles it")
		return "", "", false
	}
	target, err = cb.opt.Phone(ctx, a.helper)
	if err != nil || target == "" {
		log.Info("helper has no desk phone; they call back themselves", "err", err)
		return "", "", false
	}
	return number, target, true
}

// ring runs dial with the ring time d.
func (cb *Callbacks) ring(ctx context.Context, d time.Duration, dial func(context.Context) (Leg, error)) (Leg, error) {
	rctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return dial(rctx)
}

// unanswered sends the item of a number that did not answer back to its
// queue, its created time kept.
func (cb *Callbacks) unanswered(a accepted, cause error, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	log.Info("callback number did not answer; back to the queue", "err", cause)
	data := []byte(fmt.Sprintf("{\"helper_id\":%d}", a.helper))
	if _, err := cb.opt.Store.AppendEvent(ctx, store.Event{ItemID: a.item, Type: EventCallbackUnanswered, Data: data}); err != nil {
		log.Warn("unanswered callback not recorded", "err", err)
	}
	if err := cb.opt.Work.Recall(ctx, a.item); err != nil {
		log.Warn("unanswered callback not put back in its queue", "err", err)
	}
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
