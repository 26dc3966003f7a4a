package voice

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/voicemail"
)

// storeTimeout bounds each store write of a call's bookkeeping, which
// goes on after the call (and its context) ended. A missed call's
// callback is the only trace of it, so the bound is long: on a starved
// machine (two cores at load average 30) writes were seen to wait over
// 10 s for the store's writer, and callbacks were lost.
const storeTimeout = time.Minute

// call is one call's state as the flow goes through its steps. Only the
// goroutine running Handle touches it.
type call struct {
	f         *Flow
	c         Call
	ctx       context.Context // ends with the call
	log       *slog.Logger
	queue     string
	lang      string
	number    string // the caller's number, normalised
	contactID int64
	itemID    int64 // the voice item, 0 until enqueued
	rec       store.Call
	// ended is set when rec's final state was stored with the callback
	// (withEnd), so that end need not write it again.
	ended, ending bool
}

func (f *Flow) newCall(ctx context.Context, c Call) *call {
	cl := &call{f: f, c: c, ctx: ctx, queue: f.opt.Queue, lang: f.opt.Lang, number: normalizeNumber(c.Caller())}
	if f.opt.Route != nil {
		if q, l := f.opt.Route(c.Dialled()); q != "" {
			cl.queue = q
			if l != "" {
				cl.lang = l
			}
		}
	}
	cl.log = f.log.With("call_id", c.ID(), "queue", cl.queue)
	cl.rec = store.Call{CallID: c.ID(), Direction: "in", From: cl.number, To: c.Dialled(),
		Queue: cl.queue, ArrivedAt: f.opt.Now()}
	cl.findContact()
	return cl
}

// identity is the caller's number as a contact identity.
func (cl *call) identity() store.Identity { return store.Identity{Kind: "phone", Value: cl.number} }

// findContact looks up the caller's contact card, a read; a contact's own
// language wins over the queue's. A first-time caller has none yet: it is
// made in the commit of the call's first item (arrival), or by
// ensureContact.
func (cl *call) findContact() {
	if cl.number == "" {
		return
	}
	ctx, cancel := cl.storeCtx()
	defer cancel()
	ct, err := cl.f.opt.Store.FindContact(ctx, cl.identity())
	if errors.Is(err, store.ErrNotFound) {
		return
	}
	if err != nil {
		cl.log.Warn("caller's contact not read", "err", err)
		return
	}
	cl.contactID = ct.ID
	if ct.Lang != "" {
		if _, err := cl.f.opt.Prompts.Clip(cl.queue, ct.Lang, PromptGreeting); err == nil {
			cl.lang = ct.Lang
		}
	}
}

// ensureContact makes the caller's contact now, when no item of the call
// will (a message left before the call was queued).
func (cl *call) ensureContact() {
	if cl.contactID != 0 || cl.number == "" {
		return
	}
	ctx, cancel := cl.storeCtx()
	defer cancel()
	ct, err := cl.f.opt.Store.ResolveContact(ctx, cl.identity(), cl.number)
	if err != nil {
		cl.log.Warn("caller's contact not resolved", "err", err)
		return
	}
	cl.contactID = ct.ID
}

// arrival is a new item of the call for work.File: the caller's contact,
// when the call has none yet, is made in the same commit.
func (cl *call) arrival(it store.Item, first store.Event) store.Arrival {
	a := store.Arrival{Item: it, First: first}
	if cl.contactID == 0 && cl.number != "" {
		a.Contact, a.ContactName = cl.identity(), cl.number
	}
	return a
}

// withEnd adds the call's final record to a, when the caller has hung up
// already: a missed call's record then shares its callback's commit.
func (cl *call) withEnd(a store.Arrival) store.Arrival {
	if !cl.gone() {
		return a
	}
	cl.rec.EndedAt = cl.f.opt.Now()
	rec := cl.rec
	a.Call, cl.ending = &rec, true
	return a
}

// filed takes what a File of arrival (and withEnd) stored.
func (cl *call) filed(f store.Filed) {
	if f.Contact.ID != 0 {
		cl.contactID = f.Contact.ID
	}
	if cl.ending && f.Call.ID != 0 {
		cl.rec.ID, cl.ended = f.Call.ID, true
	}
	cl.ending = false
}

// storeCtx is the context of bookkeeping writes: not cancelled when the
// call ends, bounded by storeTimeout.
func (cl *call) storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(cl.ctx), storeTimeout)
}

// put writes the call record as it is now. The flow writes it when a
// helper is connected (a talk in progress is on record) and when the call
// ends (a missed call's end with its callback); the steps between only
// fill in its times, which the voice item's own history keeps durably
// meanwhile.
func (cl *call) put() {
	ctx, cancel := cl.storeCtx()
	defer cancel()
	stored, err := cl.f.opt.Store.PutCall(ctx, cl.rec)
	if err != nil {
		cl.log.Error("call record not written", "err", err)
		return
	}
	cl.rec.ID = stored.ID
}

// gone reports whether the call is over: the caller hung up, or the
// call's context ended (the edge ends it just before Done closes).
func (cl *call) gone() bool {
	select {
	case <-cl.c.Done():
		return true
	default:
		return cl.ctx.Err() != nil
	}
}

// answer answers the call and records when.
func (cl *call) answer() error {
	if err := cl.c.Answer(); err != nil {
		cl.log.Debug("answer failed", "err", err)
		if cl.gone() {
			cl.missed(ReasonAbandoned)
		} else {
			cl.rec.Reason = ReasonFailed
		}
		return err
	}
	cl.rec.AnsweredAt = cl.f.opt.Now() // written with the connect or the end
	return nil
}

// open reports whether the queue is within its business hours. An unknown
// queue counts as open: enqueueing then fails and the caller may leave a
// message.
func (cl *call) open() bool {
	if !cl.f.queueKnown(cl.queue) {
		cl.log.Error("calls routed to a queue that is not configured")
		return true
	}
	return cl.f.opt.Work.Router().Open(cl.queue)
}

// nobodyThere reports whether no helper of the queue is logged in: the
// caller is then not kept on hold for no one. It looks at the helpers,
// not at the queue's snapshot, which walks every waiting item.
func (cl *call) nobodyThere() bool {
	for _, h := range cl.f.opt.Work.Router().Helpers() {
		if h.Status != acd.StatusOffline && slices.Contains(h.Queues, cl.queue) {
			return false
		}
	}
	return true
}

// play plays one prompt to its end; it reports false when the caller left
// or the prompt could not be played.
func (cl *call) play(ctx context.Context, clips ...*media.Clip) bool {
	if len(clips) == 0 {
		return !cl.gone()
	}
	if err := cl.c.Play(ctx, Sequence(clips...)); err != nil {
		return false
	}
	return !cl.gone()
}

// prompt loads prompts by name; a missing one is logged and skipped.
func (cl *call) prompt(names ...string) []*media.Clip {
	var out []*media.Clip
	for _, n := range names {
		c, err := cl.f.opt.Prompts.Clip(cl.queue, cl.lang, n)
		if err != nil {
			cl.log.Error("prompt missing", "prompt", n, "err", err)
			continue
		}
		out = append(out, c)
	}
	return out
}

// greet plays the queue's greeting; false means the caller hung up.
func (cl *call) greet() bool {
	return cl.play(cl.ctx, cl.prompt(PromptGreeting)...)
}

// afterHours tells the caller the queue is closed and takes a message.
func (cl *call) afterHours() {
	cl.takeMessage(ReasonAfterHours, PromptAfterHours)
}

// voicemail asks for a message and records it.
func (cl *call) voicemail(reason string) {
	cl.takeMessage(reason, PromptLeaveMessage)
}

// takeMessage plays intro and the tone, records a message and ends the
// call as missed with reason; a callback is queued either way.
func (cl *call) takeMessage(reason, intro string) {
	defer cl.missed(reason)
	if !cl.play(cl.ctx, cl.prompt(intro, PromptBeep)...) || cl.f.opt.Voicemail == nil {
		return
	}
	cl.ensureContact()
	_, err := cl.f.opt.Voicemail.Leave(cl.ctx, cl.c, voicemail.Message{CallID: cl.c.ID(), From: cl.number,
		ContactID: cl.contactID, ParentID: cl.itemID, Subject: cl.number})
	switch {
	case errors.Is(err, voicemail.ErrTooShort):
		cl.log.Info("voicemail too short; discarded")
		return
	case err != nil:
		cl.log.Error("voicemail not stored", "err", err)
		return
	}
	cl.rec.Outcome = acd.OutcomeVoicemail
	cl.play(cl.ctx, cl.prompt(PromptSaved)...)
}

// enqueue stores the voice item and hands it to the router.
func (cl *call) enqueue() error {
	ctx, cancel := cl.storeCtx()
	defer cancel()
	data, _ := json.Marshal(map[string]string{"from": cl.number, "to": cl.c.Dialled()})
	f, err := cl.f.opt.Work.File(ctx, cl.arrival(store.Item{Channel: acd.Voice, ExternalID: cl.c.ID(),
		Queue: cl.queue, ContactID: cl.contactID, Subject: cl.number, Data: data, CreatedAt: cl.rec.ArrivedAt},
		store.Event{Type: "received", Data: data}))
	if err == nil && !f.Created {
		err = errors.New("call id already has an item")
	}
	if err != nil {
		cl.log.Error("call not enqueued", "err", err)
		return err
	}
	cl.filed(f)
	it := f.Item
	cl.itemID = it.ID
	cl.log = cl.log.With("item_id", it.ID)
	cl.rec.ItemID, cl.rec.EnqueuedAt = it.ID, cl.f.opt.Now()
	return nil
}

// afterWait takes the step the wait ended in.
func (cl *call) afterWait(w waitResult) {
	r := cl.f.opt.Work.Router()
	switch w.kind {
	case waitConnected:
		cl.talk(w.leg, w.helper)
	case waitAbandoned:
		cl.abandon()
	case waitVoicemail, waitMaxWait:
		if _, err := r.Remove(cl.itemID, acd.OutcomeVoicemail); err != nil {
			cl.log.Warn("call item not closed", "err", err)
		}
		cl.voicemail(map[waitKind]string{waitVoicemail: ReasonVoicemail, waitMaxWait: ReasonMaxWait}[w.kind])
	case waitCallback:
		if _, err := r.Remove(cl.itemID, OutcomeCallback); err != nil {
			cl.log.Warn("call item not closed", "err", err)
		}
		cl.play(cl.ctx, cl.prompt(PromptCallback)...)
		cl.missed(ReasonCallback)
	default:
		cl.rec.Reason = ReasonFailed
	}
}

// abandon closes the item of a caller who hung up while waiting: a missed
// call. An item a helper took in the meantime is completed instead.
func (cl *call) abandon() {
	r := cl.f.opt.Work.Router()
	_, err := r.Abandon(cl.itemID)
	if errors.Is(err, acd.ErrState) {
		if info, ok := r.Item(cl.itemID); ok && info.HelperID != 0 {
			cl.complete(info.HelperID)
			return
		}
	}
	if err != nil {
		cl.log.Warn("abandon failed", "err", err)
	}
	cl.missed(ReasonAbandoned)
}

// talk bridges the caller to the helper's phone until either hangs up,
// then completes the item.
func (cl *call) talk(leg Leg, helper int64) {
	defer leg.Hangup()
	if _, err := cl.f.opt.Work.Router().Connected(cl.itemID); err != nil {
		cl.log.Warn("connect not recorded", "helper", helper, "err", err)
	}
	cl.rec.HelperID, cl.rec.ConnectedAt, cl.rec.Outcome = helper, cl.f.opt.Now(), acd.OutcomeAnswered
	cl.put()
	cl.log.Info("call connected", "helper", helper)
	cl.closeCallbacks()

	ended := func() {}
	if t := cl.f.opt.Talking; t != nil {
		ended = t(cl.c, helper, leg)
	}
	if err := cl.c.Bridge(cl.ctx, leg); err != nil {
		cl.log.Debug("bridge ended", "err", err)
	}
	ended()
	if to, ok := returned(leg); ok && !cl.gone() {
		cl.backToQueue(helper, to)
		return
	}
	cl.complete(helper)
}

func (cl *call) complete(helper int64) {
	ctx, cancel := cl.storeCtx()
	defer cancel()
	if err := cl.f.opt.Work.Complete(ctx, cl.itemID, helper, acd.OutcomeAnswered, ""); err != nil {
		cl.log.Warn("call item not completed", "helper", helper, "err", err)
	}
	cl.rec.HelperID, cl.rec.Outcome = helper, acd.OutcomeAnswered
}

// missed marks the call as one that ended without a helper and queues
// the callback.
func (cl *call) missed(reason string) {
	cl.f.opt.Work.CountMissed(cl.f.opt.Now())
	cl.rec.Reason = reason
	switch {
	case reason == ReasonCallback:
		cl.rec.Outcome = OutcomeCallback
	case cl.rec.Outcome == acd.OutcomeNone:
		cl.rec.Outcome = acd.OutcomeAbandoned
	}
	cl.queueCallback(reason)
}

// end hangs up and writes the final call record, unless the callback's
// commit did.
func (cl *call) end() {
	cl.c.Hangup()
	if !cl.ended {
		cl.rec.EndedAt = cl.f.opt.Now()
		cl.put()
	}
	cl.log.Info("call ended", "outcome", string(cl.rec.Outcome), "reason", cl.rec.Reason,
		"wait", cl.waited(), "helper", cl.rec.HelperID)
}

// waited is how long the caller waited for a helper.
func (cl *call) waited() time.Duration {
	if cl.rec.EnqueuedAt.IsZero() {
		return 0
	}
	if !cl.rec.ConnectedAt.IsZero() {
		return cl.rec.ConnectedAt.Sub(cl.rec.EnqueuedAt)
	}
	return cl.rec.EndedAt.Sub(cl.rec.EnqueuedAt)
}
