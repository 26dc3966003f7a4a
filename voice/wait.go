package voice

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/sip/media"
)

// waitKind is how waiting in the queue ended.
type waitKind int

const (
	waitFailed    waitKind = iota // the item closed elsewhere, or the router stopped
	waitConnected                 // a helper's phone answered and the accept held
	waitAbandoned                 // the caller hung up
	waitVoicemail                 // the caller pressed 1
	waitCallback                  // the caller pressed 2
	waitMaxWait                   // the queue's max_wait passed
)

// Keys the caller presses while waiting.
const (
	keyVoicemail = '1'
	keyCallback  = '2'
)

// waitResult is the end of waiting; leg and helper are set when connected.
type waitResult struct {
	kind   waitKind
	leg    Leg
	helper int64
}

// ringResult is what ringing one helper's phone came to.
type ringResult struct {
	helper int64
	leg    Leg
	err    error
}

// waiter follows the call's item while the caller is on hold. Only the
// goroutine of wait touches its fields.
type waiter struct {
	cl       *call
	ctx      context.Context // ends when waiting ends
	wg       sync.WaitGroup  // hold music, the event pump and ringing
	rings    map[int64]context.CancelFunc
	results  chan ringResult
	events   chan acd.Event
	accepted int64 // a helper who took the call in the console; their phone connects them
}

// acceptRing bounds the ringing of the phone of a helper who took the
// call in the console and whose phone was not ringing yet.
const acceptRing = 30 * time.Second

// wait plays hold music and announcements and rings the helpers the
// router offers the call to, until one answers, the caller chooses
// voicemail or a callback, the max wait passes or the caller hangs up.
func (cl *call) wait() waitResult {
	ctx, cancel := context.WithCancel(cl.ctx)
	w := &waiter{cl: cl, ctx: ctx, rings: map[int64]context.CancelFunc{},
		results: make(chan ringResult), events: make(chan acd.Event)}
	defer w.wg.Wait()
	defer cancel()

	sub := cl.f.opt.Work.Router().Subscribe(cl.itemID)
	defer sub.Close()
	w.goHold()
	w.goPump(sub)
	w.ringPending()
	return w.loop()
}

func (w *waiter) loop() waitResult {
	for {
		select {
		case <-w.cl.c.Done():
			return waitResult{kind: waitAbandoned}
		case d := <-w.cl.c.DTMF():
			if k, ok := keyChoice(d); ok {
				return waitResult{kind: k}
			}
		case e, ok := <-w.events:
			if !ok { // the pump stops when the call's context ends too
				if w.cl.gone() {
					return waitResult{kind: waitAbandoned}
				}
				return waitResult{kind: waitFailed}
			}
			if r, done := w.onEvent(e); done {
				return r
			}
		case r := <-w.results:
			if res, done := w.onRing(r); done {
				return res
			}
		}
	}
}

func keyChoice(d media.DTMF) (waitKind, bool) {
	switch d.Digit {
	case keyVoicemail:
		return waitVoicemail, true
	case keyCallback:
		return waitCallback, true
	}
	return 0, false
}

// onEvent follows the router: offers ring phones, ended offers stop them.
func (w *waiter) onEvent(e acd.Event) (waitResult, bool) {
	w.cl.log.Debug("item event", "type", string(e.Type), "helper", e.HelperID)
	switch e.Type {
	case acd.EventOffered:
		w.ring(e.HelperID, e.Deadline)
	case acd.EventTimedOut, acd.EventWithdrawn, acd.EventRejected:
		w.stopRing(e.HelperID)
	case acd.EventAccepted:
		w.acceptedInConsole(e.HelperID)
	case acd.EventMaxWait:
		return waitResult{kind: waitMaxWait}, true
	case acd.EventClosed:
		return waitResult{kind: waitFailed}, true
	}
	return waitResult{}, false
}

// acceptedInConsole connects a helper who took the call in the console
// (the router's accept came before their phone answered) through their
// phone: the one ringing already, else it is rung now. A helper with no
// phone to ring cannot talk to the caller, so the call is taken back and
// offered again; the router then avoids that helper for a while.
func (w *waiter) acceptedInConsole(helper int64) {
	w.accepted = helper
	for h := range w.rings {
		if h != helper {
			w.stopRing(h)
		}
	}
	if _, ok := w.rings[helper]; ok {
		w.cl.log.Info("call taken in the console; its ringing phone connects it", "helper", helper)
		return
	}
	w.ring(helper, time.Now().Add(acceptRing))
	if _, ok := w.rings[helper]; !ok {
		w.giveBack(helper, errors.New("no phone to ring"))
		return
	}
	w.cl.log.Info("call taken in the console; ringing the helper's phone", "helper", helper)
}

// heldBy reports whether helper holds the call already: they accepted it
// in the console as their phone answered, before the loop saw the accept.
func (w *waiter) heldBy(helper int64) bool {
	info, ok := w.cl.f.opt.Work.Router().Item(w.cl.itemID)
	return ok && info.State == acd.StateActive && info.HelperID == helper
}

// giveBack takes the call back from a helper who accepted it in the
// console but whose phone did not connect, and the caller waits on.
func (w *waiter) giveBack(helper int64, cause error) {
	w.accepted = 0
	w.cl.log.Warn("call taken in the console but the helper's phone did not connect; offered again",
		"helper", helper, "err", cause)
	if _, err := w.cl.f.opt.Work.Router().Recall(w.cl.itemID); err != nil {
		w.cl.log.Warn("call not taken back from the helper", "helper", helper, "err", err)
	}
}

// onRing handles the end of ringing one phone: an answer is the accept, a
// busy or declined phone the reject; ringing out is the router's RONA.
// For a helper who accepted in the console, the answer connects them and
// any other end takes the call back.
func (w *waiter) onRing(r ringResult) (waitResult, bool) {
	w.stopRing(r.helper)
	cl := w.cl
	if r.helper == w.accepted && w.accepted != 0 {
		if r.err == nil {
			return waitResult{kind: waitConnected, leg: r.leg, helper: r.helper}, true
		}
		w.giveBack(r.helper, r.err)
		return waitResult{}, false
	}
	if r.err == nil {
		ctx, cancel := cl.storeCtx()
		defer cancel()
		if err := cl.f.opt.Work.Accept(ctx, cl.itemID, r.helper); err != nil && !w.heldBy(r.helper) {
			cl.log.Info("helper answered too late", "helper", r.helper, "err", err)
			r.leg.Hangup()
			return waitResult{}, false
		}
		return waitResult{kind: waitConnected, leg: r.leg, helper: r.helper}, true
	}
	reason, reject := rejectReason(r.err)
	if !reject {
		return waitResult{}, false
	}
	if _, err := cl.f.opt.Work.Router().Reject(cl.itemID, r.helper, reason); err != nil && !errors.Is(err, acd.ErrNoOffer) {
		cl.log.Warn("reject not recorded", "helper", r.helper, "err", err)
	}
	cl.log.Info("helper phone refused the call", "helper", r.helper, "err", r.err)
	return waitResult{}, false
}

// rejectReason maps a failed ring to the router's reject; ringing out and
// a cancelled ring are left to the offer's own end.
func rejectReason(err error) (acd.RejectReason, bool) {
	switch {
	case errors.Is(err, ErrDeclined):
		return acd.RejectDeclined, true
	case errors.Is(err, ErrNoAnswer), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "", false
	}
	return acd.RejectBusy, true // busy, or the phone cannot be reached
}

// ringPending rings the offers made before the subscription started:
// Submit routes the item before its id is known to subscribe.
func (w *waiter) ringPending() {
	info, ok := w.cl.f.opt.Work.Router().Item(w.cl.itemID)
	if !ok {
		return
	}
	for _, h := range info.OfferedTo {
		w.ring(h, time.Time{})
	}
}

// ring starts ringing a helper's phone, unless it rings already or the
// helper has none (they answer in the console then).
func (w *waiter) ring(helper int64, deadline time.Time) {
	cl := w.cl
	if _, ok := w.rings[helper]; ok || cl.f.opt.Dialer == nil {
		return
	}
	target, err := cl.f.opt.Phone(w.ctx, helper)
	if err != nil || target == "" {
		cl.log.Debug("helper has no phone to ring", "helper", helper, "err", err)
		return
	}
	ctx, cancel := ringContext(w.ctx, deadline)
	w.rings[helper] = cancel
	cl.log.Info("ringing helper", "helper", helper, "target", target)
	w.wg.Go(func() {
		defer cancel()
		leg, err := cl.f.opt.Dialer.Dial(ctx, target, cl.c)
		select {
		case w.results <- ringResult{helper: helper, leg: leg, err: err}:
		case <-w.ctx.Done():
			if leg != nil {
				leg.Hangup()
			}
		}
	})
}

// ringContext bounds a ring by the offer's deadline when it is known; the
// router's timed_out event stops the ring first, the deadline is a backstop.
func ringContext(ctx context.Context, deadline time.Time) (context.Context, context.CancelFunc) {
	if deadline.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, deadline.Add(time.Second))
}

func (w *waiter) stopRing(helper int64) {
	if cancel, ok := w.rings[helper]; ok {
		cancel()
		delete(w.rings, helper)
	}
}

// goPump forwards the item's events to the wait loop; the channel closes
// when the subscription ends.
func (w *waiter) goPump(sub *acd.Subscription) {
	w.wg.Go(func() {
		defer close(w.events)
		for {
			e, err := sub.Next(w.ctx)
			if err != nil {
				w.cl.log.Debug("item events ended", "err", err)
				return
			}
			select {
			case w.events <- e:
			case <-w.ctx.Done():
				return
			}
		}
	})
}

// goHold plays, until waiting ends: the caller's place and expected wait,
// the menu, then the hold tune until the next announcement.
func (w *waiter) goHold() {
	w.wg.Go(func() {
		cl := w.cl
		music := cl.prompt(PromptHold)
		for w.ctx.Err() == nil {
			if !cl.play(w.ctx, append(cl.announcement(), cl.prompt(PromptMenu)...)...) {
				return
			}
			ctx, cancel := context.WithTimeout(w.ctx, cl.f.opt.AnnounceEvery)
			err := playLoop(ctx, cl.c, music)
			cancel()
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return
			}
		}
	})
}

// playLoop plays clips over and over until ctx ends.
func playLoop(ctx context.Context, c Call, clips []*media.Clip) error {
	if len(clips) == 0 {
		return c.Play(ctx, media.Silence())
	}
	return c.Play(ctx, clips[0].Loop())
}

// announcement says the caller's place and, when the queue has a recent
// history, the expected wait in whole minutes (at least one).
func (cl *call) announcement() []*media.Clip {
	est, err := cl.f.opt.Work.Router().Position(cl.itemID)
	if err != nil {
		return nil
	}
	p := cl.f.opt.Prompts
	out := cl.prompt(PromptPosition)
	if n, err := p.Number(cl.queue, cl.lang, est.Position, false); err == nil {
		out = append(out, n)
	}
	if !est.Known {
		return out
	}
	mins := int((est.Wait + time.Minute - 1) / time.Minute)
	mins = min(max(mins, 1), MaxNumber)
	out = append(out, cl.prompt(PromptWait)...)
	if n, err := p.Number(cl.queue, cl.lang, mins, true); err == nil {
		out = append(out, n)
	}
	return append(out, cl.prompt(MinutesWord(cl.lang, mins))...)
}
