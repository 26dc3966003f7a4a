package messenger

import (
	"context"
	"sync"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

// OutboxOptions say how the Telegram sender shares the store's outbox
// with the other nodes on the same database (the outbox.* keys).
type OutboxOptions struct {
	// Lease is how long the sender holds the replies it claimed, renewed
	// while it holds them: a node that dies leaves its chats to the others
	// this long. Default store.DefaultOutLease.
	Lease time.Duration
	// Poll is how often the sender looks for replies to claim (those
	// other nodes queued, leases run out). Default store.DefaultOutPoll.
	Poll time.Duration
	// Claimant names the sender in its claims; it must differ between
	// processes. Default store.NewClaimant("telegram").
	Claimant string
}

func (o OutboxOptions) withDefaults() OutboxOptions {
	if o.Lease <= 0 {
		o.Lease = store.DefaultOutLease
	}
	if o.Poll <= 0 {
		o.Poll = store.DefaultOutPoll
	}
	if o.Claimant == "" {
		o.Claimant = store.NewClaimant("telegram")
	}
	return o
}

// claimStore is the part of store.Store the claim loop uses.
type claimStore interface {
	ClaimOut(ctx context.Context, c store.OutClaim) ([]store.OutLetter, error)
	RenewOut(ctx context.Context, claimant string, lease time.Duration) (time.Time, error)
	ReleaseOut(ctx context.Context, claimant string) error
}

// tgClaims is the sender's share of the store's outbox. It claims only
// the oldest pending reply of each chat (store.OutClaim.InOrder), so a
// chat's replies go out one at a time, in order, from whichever node
// holds the chat's oldest: the next is claimed once the one before is
// sent or given up. A retry keeps its lease, so the chat waits for it on
// the node that holds it.
type tgClaims struct {
	st   claimStore
	opt  OutboxOptions
	kick chan struct{} // there may be replies to claim; capacity 1
}

func newClaims(st claimStore, opt OutboxOptions) *tgClaims {
	return &tgClaims{st: st, opt: opt.withDefaults(), kick: make(chan struct{}, 1)}
}

// poke wakes the claim loop; a nil c (a sender without a store) ignores it.
func (c *tgClaims) poke() {
	if c == nil {
		return
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// runOutbox runs the shards' senders and the claim loop until ctx ends,
// then releases the replies not sent, for the next start or another node.
func (tg *telegram) runOutbox(ctx context.Context) {
	var wg sync.WaitGroup
	for _, sh := range tg.shards {
		wg.Go(func() { tg.sendLoop(ctx, sh) })
	}
	tg.claimLoop(ctx)
	wg.Wait()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if err := tg.claims.st.ReleaseOut(rctx, tg.claims.opt.Claimant); err != nil {
		tg.m.log.Warn("telegram replies not released; they wait for their leases to run out", "err", err)
	}
}

// claimLoop claims replies every Poll and whenever poked, and renews the
// sender's leases every third of a lease, until ctx ends.
func (tg *telegram) claimLoop(ctx context.Context) {
	c := tg.claims
	store.RunClaims(ctx, c.opt.Poll, c.opt.Lease, c.kick, tg.claim, tg.renew)
}

// claim takes the oldest due reply of chats nobody holds, as many as
// there is room for, and hands them to their shards.
func (tg *telegram) claim(ctx context.Context) {
	room := min(maxHeld-tg.held(), claimPage)
	if room <= 0 {
		return
	}
	c := tg.claims
	rows, err := c.st.ClaimOut(ctx, store.OutClaim{Channel: acd.Telegram, Claimant: c.opt.Claimant,
		Lease: c.opt.Lease, Limit: room, InOrder: true})
	if err != nil {
		if ctx.Err() == nil {
			tg.m.log.Warn("telegram replies not claimed; will try again", "err", err)
		}
		return
	}
	tg.take(rows)
	if len(rows) == room {
		c.poke() // there may be more
	}
}

// held counts the replies in the shards.
func (tg *telegram) held() int {
	n := 0
	for _, sh := range tg.shards {
		sh.mu.Lock()
		n += len(sh.queue)
		sh.mu.Unlock()
	}
	return n
}

// renew extends the sender's leases and the shards' record of them; a
// reply whose lease ran out before is left as it is (holds keeps it from
// being sent).
func (tg *telegram) renew(ctx context.Context) {
	c := tg.claims
	until, err := c.st.RenewOut(ctx, c.opt.Claimant, c.opt.Lease)
	if err != nil {
		if ctx.Err() == nil {
			tg.m.log.Warn("telegram leases not renewed", "err", err)
		}
		return
	}
	from := until.Add(-c.opt.Lease)
	for _, sh := range tg.shards {
		sh.mu.Lock()
		for i := range sh.queue {
			if sh.queue[i].ClaimedUntil.After(from) {
				sh.queue[i].ClaimedUntil = until
			}
		}
		sh.mu.Unlock()
	}
}

// holds reports whether the sender may send the shard's head: always
// without a store, else while its lease has some time left for the send
// and its mark.
func (tg *telegram) holds(sh *tgShard) bool {
	if tg.claims == nil {
		return true
	}
	margin := min(tg.claims.opt.Lease/4, 2*sendTimeout)
	return time.Until(sh.headUntil()) > margin
}
