package voice

import (
	"time"

	"github.com/morozhq/moroz/acd"
)

// lostLeg is a helper leg that can tell a helper who vanished mid-call
// (a browser tab closed and not back: package softphone) from one who
// hung up.
type lostLeg interface {
	Lost() bool
}

// transferLeg is a helper leg the helper can end by handing the caller
// to a queue or another helper (the browser softphone's transfer).
type transferLeg interface {
	Transferred() (acd.Target, bool)
}

// returned reports whether the caller goes back to waiting when leg has
// ended, and where: the zero Target is their own queue.
func returned(leg Leg) (acd.Target, bool) {
	if t, ok := leg.(transferLeg); ok {
		if to, ok := t.Transferred(); ok {
			return to, true
		}
	}
	l, ok := leg.(lostLeg)
	return acd.Target{}, ok && l.Lost()
}

// backToQueue puts the caller back in a queue and waits again: their own
// (a lost helper; the router avoids that helper) or the one a transfer
// named. The item keeps its created time, so the caller is ahead of
// everyone who called later.
func (cl *call) backToQueue(helper int64, to acd.Target) {
	r := cl.f.opt.Work.Router()
	var err error
	if to == (acd.Target{}) {
		cl.log.Warn("helper lost mid-call; the caller waits again", "helper", helper)
		_, err = r.Recall(cl.itemID)
	} else {
		cl.log.Info("call transferred", "helper", helper, "queue", to.Queue, "to_helper", to.Helper)
		_, err = r.Transfer(cl.itemID, to)
	}
	if err != nil {
		cl.log.Warn("call not put back in a queue", "helper", helper, "err", err)
		cl.complete(helper)
		return
	}
	cl.rec.HelperID, cl.rec.ConnectedAt, cl.rec.Outcome = 0, time.Time{}, ""
	cl.put()
	cl.afterWait(cl.wait())
}
