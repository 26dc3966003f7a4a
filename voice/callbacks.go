package voice

import (
	"encoding/json"
	"strings"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

// EventMissedAgain is the event a caller's open callback gets when they
// miss another call.
const EventMissedAgain = "missed_again"

// queueCallback makes sure the caller has one open callback item: a new
// one, created at this call's arrival (so it keeps the call's place and
// waiting time), or, when one is open, an event on it. A message left
// does not spare the callback: the issue counts it as a missed call too.
// A helper who takes the callback is rung (desk phone or browser) and
// bridged to the number through the trunk (Callbacks) when one is set;
// without either they dial the number themselves and complete the item
// called-back.
func (cl *call) queueCallback(reason string) {
	if cl.number == "" {
		cl.log.Info("missed call without a number; no callback")
		return
	}
	unlock := cl.f.numbers.lock(cl.number)
	defer unlock()
	ctx, cancel := cl.storeCtx()
	defer cancel()

	data, _ := json.Marshal(map[string]string{"number": cl.number, "call_id": cl.c.ID(), "reason": reason})
	if cl.contactID == 0 { // another call of the number may have made it since
		cl.findContact()
	}
	if open, ok := cl.openCallback(); ok {
		if _, err := cl.f.opt.Store.AppendEvent(ctx, store.Event{ItemID: open.ID, Type: EventMissedAgain, Data: data}); err != nil {
			cl.log.Error("missed call not added to its callback", "callback", open.ID, "err", err)
		}
		return
	}
	f, err := cl.f.opt.Work.File(ctx, cl.withEnd(cl.arrival(store.Item{Channel: acd.Callback, ExternalID: "callback:" + cl.c.ID(),
		ContactID: cl.contactID, ParentID: cl.itemID, Subject: cl.number, Data: data, CreatedAt: cl.rec.ArrivedAt},
		store.Event{Type: "missed", Data: data})))
	if err != nil {
		cl.ending = false
		cl.log.Error("callback not queued", "err", err)
		return
	}
	cl.filed(f)
	cl.log.Info("callback queued", "callback", f.Item.ID, "reason", reason)
}

// openCallback returns the caller's open callback item, if any.
func (cl *call) openCallback() (store.Item, bool) {
	if cl.contactID == 0 {
		return store.Item{}, false
	}
	ctx, cancel := cl.storeCtx()
	defer cancel()
	items, err := cl.f.opt.Store.ListItems(ctx, store.ItemFilter{Channel: acd.Callback, ContactID: cl.contactID, Open: true, Limit: 1})
	if err != nil {
		cl.log.Warn("open callbacks not read", "err", err)
		return store.Item{}, false
	}
	if len(items) == 0 {
		return store.Item{}, false
	}
	return items[0], true
}

// closeCallbacks closes the caller's waiting callback: they phoned again
// and a helper answered. A callback a helper is working on is left to them.
func (cl *call) closeCallbacks() {
	unlock := cl.f.numbers.lock(cl.number)
	defer unlock()
	open, ok := cl.openCallback()
	if !ok {
		return
	}
	if _, err := cl.f.opt.Work.Router().Remove(open.ID, acd.OutcomeAnswered); err != nil {
		cl.log.Info("open callback left as it is", "callback", open.ID, "err", err)
		return
	}
	cl.log.Info("callback closed: the caller got through", "callback", open.ID)
}

// normalizeNumber keeps the digits (and a leading +) of a phone number;
// a user name that is not a number is kept, lower-cased.
func normalizeNumber(s string) string {
	s = strings.TrimSpace(s)
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ', r == '-', r == '(', r == ')', r == '.':
		default:
			return strings.ToLower(s)
		}
	}
	return b.String()
}
