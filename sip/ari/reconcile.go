package ari

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

// ReasonDropped is the call record's reason for a call Asterisk lost
// mid-call (it restarted or crashed): no hangup reached Moroz.
const ReasonDropped = "dropped"

// reconcile compares what Moroz follows with what Asterisk has after the
// events websocket came back: channels Asterisk no longer has end (as
// dropped when Asterisk restarted, else as hung up while Moroz was away),
// callers that entered the app meanwhile are adopted, and leftovers
// Moroz made but no longer follows are removed.
func (a *App) reconcile(ctx context.Context, restarted bool) {
	chans, err := a.c.Channels(ctx)
	if err != nil {
		a.requestFailed("reconcile channels", err)
		return
	}
	present := map[string]Channel{}
	for _, ch := range chans {
		present[ch.ID] = ch
	}
	a.endLost(present, restarted)
	a.sweepBridges(ctx)
	a.adopt(ctx, chans)
}

// endLost ends the channels Moroz follows that Asterisk no longer has;
// when Asterisk restarted, their calls are dropped.
func (a *App) endLost(present map[string]Channel, restarted bool) {
	a.mu.Lock()
	var lost []*channel
	for id, ch := range a.chans {
		if _, ok := present[id]; ok {
			continue
		}
		if ch == nil {
			delete(a.chans, id)
			continue
		}
		lost = append(lost, ch)
	}
	a.mu.Unlock()
	if !restarted {
		for _, ch := range lost {
			ch.log.Info("channel ended while the events websocket was down")
			ch.finish(CauseNormal, false)
		}
		return
	}
	for _, ch := range lost {
		ch.markDropped()
	}
	for _, ch := range lost {
		ch.log.Warn("asterisk lost the channel; the call is dropped")
		ch.finish(0, true)
	}
}

// adopt starts calls for callers in the app that Moroz missed, and hangs
// up channels Moroz made in an earlier run or ended already.
func (a *App) adopt(ctx context.Context, chans []Channel) {
	a.mu.Lock()
	unended := a.unended
	a.unended = map[string]bool{}
	a.mu.Unlock()
	for _, ch := range chans {
		if _, known := a.lookup(ch.ID); known {
			continue
		}
		switch {
		case unended[ch.ID]:
			a.log.Info("hanging up a call Asterisk would not end before", "call_id", ch.ID)
			a.hangupStray(ch.ID, ReasonNormal)
		case strings.HasPrefix(ch.ID, idPrefix):
			a.log.Info("hanging up a channel left from before", "call_id", ch.ID)
			a.hangupStray(ch.ID, ReasonNormal)
		case a.inApp(ch):
			a.log.Info("adopting a call that entered the app while disconnected", "call_id", ch.ID)
			a.startCall(ctx, ch)
		}
	}
}

// inApp reports whether a channel is in this Stasis app.
func (a *App) inApp(ch Channel) bool {
	return strings.EqualFold(ch.Dialplan.AppName, "Stasis") &&
		(ch.Dialplan.AppData == a.c.App() || strings.HasPrefix(ch.Dialplan.AppData, a.c.App()+","))
}

// sweepBridges destroys Moroz's bridges that no channel it follows uses.
func (a *App) sweepBridges(ctx context.Context) {
	bridges, err := a.c.Bridges(ctx)
	if err != nil {
		a.requestFailed("reconcile bridges", err)
		return
	}
	a.mu.Lock()
	inUse := maps.Clone(a.bridges)
	a.mu.Unlock()
	for _, b := range bridges {
		if !strings.HasPrefix(b.ID, idPrefix) || inUse[b.ID] {
			continue
		}
		if err := a.c.DestroyBridge(ctx, b.ID); err != nil && !IsNotFound(err) {
			a.requestFailed("destroy left bridge", err)
		}
	}
}

// afterDrop records a call Asterisk lost as dropped and makes sure the
// caller has a callback: the flow queues one for a caller lost while
// waiting, but not for one who was talking to a helper.
func (a *App) afterDrop(ch *channel) {
	if !ch.wasDropped() || a.opt.Store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec, err := a.opt.Store.Call(ctx, ch.id)
	if err != nil {
		ch.log.Error("dropped call's record not read", "err", err)
		return
	}
	rec.Reason = ReasonDropped
	if _, err := a.opt.Store.PutCall(ctx, rec); err != nil {
		ch.log.Error("dropped call not recorded", "err", err)
	}
	if rec.Outcome == acd.OutcomeAnswered {
		a.queueCallback(ctx, ch, rec)
	}
}

// queueCallback submits a callback item for a dropped call unless the
// caller already has an open one.
func (a *App) queueCallback(ctx context.Context, ch *channel, rec store.Call) {
	if a.opt.Work == nil || rec.From == "" {
		return
	}
	ct, err := a.opt.Store.ResolveContact(ctx, store.Identity{Kind: "phone", Value: rec.From}, rec.From)
	if err != nil {
		ch.log.Error("dropped call's contact not resolved", "err", err)
		return
	}
	open, err := a.opt.Store.ListItems(ctx, store.ItemFilter{Channel: acd.Callback, ContactID: ct.ID, Open: true, Limit: 1})
	if err == nil && len(open) > 0 {
		return
	}
	data, _ := json.Marshal(map[string]string{"number": rec.From, "call_id": rec.CallID, "reason": ReasonDropped})
	it, _, err := a.opt.Work.Submit(ctx, store.Item{Channel: acd.Callback, ExternalID: "callback:" + rec.CallID,
		ContactID: ct.ID, ParentID: rec.ItemID, Subject: rec.From, Data: data, CreatedAt: rec.ArrivedAt},
		store.Event{Type: "missed", Data: data})
	if err != nil {
		ch.log.Error("dropped call's callback not queued", "err", err)
		return
	}
	ch.log.Info("callback queued for a dropped call", "callback", it.ID)
}
