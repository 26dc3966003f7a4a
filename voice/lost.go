package voice

import "time"

// lostLeg is a helper leg that can tell a helper who vanished mid-call
// (a browser tab closed and not back: package softphone) from one who
// hung up.
type lostLeg interface {
	Lost() bool
}

func helperLost(l Leg) bool {
	ll, ok := l.(lostLeg)
	return ok && ll.Lost()
}

// backToQueue puts the caller of a vanished helper back in the queue and
// waits again. The item keeps its created time, so the caller is ahead of
// everyone who called later, and the router avoids the lost helper.
func (cl *call) backToQueue(helper int64) {
	cl.log.Warn("helper lost mid-call; the caller waits again", "helper", helper)
	if _, err := cl.f.opt.Work.Router().Recall(cl.itemID); err != nil {
		cl.log.Warn("call not put back in its queue", "helper", helper, "err", err)
		cl.complete(helper)
		return
	}
	cl.rec.HelperID, cl.rec.ConnectedAt, cl.rec.Outcome = 0, time.Time{}, ""
	cl.put()
	cl.afterWait(cl.wait())
}
