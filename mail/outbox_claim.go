package mail

import (
	"context"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

// mailingPrefix starts every mailing letter's Message-ID
// (mailingMessageID): the mailings' outbox claims those, the replies'
// outbox the others.
const mailingPrefix = "mailing-"

// leaseMargin is how long before its lease ends a letter is no longer
// begun: the send and its mark must fit in what is left.
func (o *Outbox) leaseMargin() time.Duration { return min(o.cfg.Lease/4, 10*time.Second) }

// holds reports whether the outbox may begin sending e: always in memory,
// with a store while its lease has some time left.
func (o *Outbox) holds(e *outEntry) bool {
	if o.st == nil {
		return true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return time.Until(e.until) > o.leaseMargin()
}

// claimLoop claims letters as they come due, every Poll and whenever
// poked, and renews the outbox's leases every third of a lease, until
// ctx ends.
func (o *Outbox) claimLoop(ctx context.Context) {
	store.RunClaims(ctx, o.cfg.Poll, o.cfg.Lease, o.kick, o.claim, o.renew)
}

// claim takes as many due letters as keep the workers busy twice over
// and queues them.
func (o *Outbox) claim(ctx context.Context) {
	o.mu.Lock()
	room := 2*o.cfg.Workers - len(o.queued)
	o.mu.Unlock()
	if room <= 0 {
		return
	}
	ls, err := o.st.ClaimOut(ctx, store.OutClaim{Channel: acd.Email, Claimant: o.cfg.Claimant, Lease: o.cfg.Lease,
		Limit: room, Prefix: mailingPrefix, Except: !o.cfg.Mailings})
	if err != nil {
		if ctx.Err() == nil {
			o.log.Warn("outbox: letters not claimed; will try again", "err", err)
		}
		return
	}
	for _, l := range ls {
		o.push(entryOf(l))
	}
	if len(ls) > 0 {
		o.log.Debug("outbox claimed letters", "letters", len(ls))
	}
}

// renew extends the leases of the letters the outbox holds. A letter
// whose lease ran out before is left as it is: it may be another's now,
// and holds keeps it from being begun.
func (o *Outbox) renew(ctx context.Context) {
	until, err := o.st.RenewOut(ctx, o.cfg.Claimant, o.cfg.Lease)
	if err != nil {
		if ctx.Err() == nil {
			o.log.Warn("outbox: leases not renewed", "err", err)
		}
		return
	}
	from := until.Add(-o.cfg.Lease)
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, e := range o.queued {
		if e.until.After(from) {
			e.until = until
		}
	}
}

// release gives up the outbox's claims on letters it did not send, so
// the next Run or another node sends them without waiting out a lease.
func (o *Outbox) release(ctx context.Context) {
	if o.st == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if err := o.st.ReleaseOut(ctx, o.cfg.Claimant); err != nil {
		o.log.Warn("outbox: letters not released; they wait for their leases to run out", "err", err)
	}
}
