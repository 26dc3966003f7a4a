package mail

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/morozhq/moroz/store"
)

// Outgoing is one letter for the relay.
type Outgoing struct {
	ItemID    int64  // the item it answers, 0 when none
	MessageID string // without brackets
	From      string // envelope sender; empty is the null path
	To        []string
	Raw       []byte // the whole RFC 5322 letter
}

// Sender hands one letter to the next hop. Relay is the real one.
type Sender interface {
	// Send delivers m or fails; a *PermanentError means retrying is
	// pointless.
	Send(ctx context.Context, m Outgoing) error
}

// PermanentError is a failure the relay gave as final (an SMTP 5xx): the
// Outbox does not retry it.
type PermanentError struct{ Err error }

// Error returns the relay's answer.
func (e *PermanentError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error, an *smtp.SMTPError from a relay.
func (e *PermanentError) Unwrap() error { return e.Err }

// ErrOutboxClosed is returned by Enqueue after Run has ended.
var ErrOutboxClosed = errors.New("outbox closed")

// Defaults for OutboxConfig.
const (
	DefaultOutboxWorkers = 4
	DefaultMaxAttempts   = 8
	DefaultBackoff       = 30 * time.Second
	DefaultMaxBackoff    = 30 * time.Minute
	DefaultOutboxLease   = store.DefaultOutLease
	DefaultOutboxPoll    = store.DefaultOutPoll
)

// OutboxConfig tunes the outbound queue (mail.outbox.*).
type OutboxConfig struct {
	// Workers is how many letters are sent at once. Default
	// DefaultOutboxWorkers.
	Workers int `yaml:"workers"`
	// MaxAttempts is how often a letter is tried before it is given up.
	// Default DefaultMaxAttempts.
	MaxAttempts int `yaml:"max_attempts"`
	// Backoff is the wait after the first failure; it doubles with each
	// further failure up to MaxBackoff. Defaults DefaultBackoff and
	// DefaultMaxBackoff.
	Backoff    time.Duration `yaml:"backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// Done, when set, is called once per letter with nil when it was sent
	// or the last error when it was given up, before that is recorded in
	// the store (a letter resumed after a crash between the two is
	// reported again). It runs on a worker and must not block for long.
	Done func(m Outgoing, err error) `yaml:"-"`
	// Mailings says which letters of the store a stored outbox sends:
	// true, only the mailings' (IsMailingLetter); false, every letter but
	// those. Two stored outboxes over one store (replies and mailings)
	// thus each send only their own.
	Mailings bool `yaml:"-"`
	// Lease is how long a stored outbox holds the letters it claimed
	// (renewed while it holds them): a node that dies leaves its letters
	// to the others for that long. Poll is how often it looks for letters
	// to claim: those other nodes queued, retries that came due, leases
	// run out. Defaults DefaultOutboxLease and DefaultOutboxPoll (the
	// outbox.lease and outbox.poll keys).
	Lease time.Duration `yaml:"-"`
	Poll  time.Duration `yaml:"-"`
	// Claimant names the outbox in the claims it takes; it must differ
	// between processes. Default store.NewClaimant("mail").
	Claimant string `yaml:"-"`
}

// OutboxStore is the part of store.Store an Outbox keeps its queue in;
// every store.Store is one.
type OutboxStore interface {
	EnqueueOut(ctx context.Context, l store.OutLetter) (store.OutLetter, bool, error)
	ClaimOut(ctx context.Context, c store.OutClaim) ([]store.OutLetter, error)
	RenewOut(ctx context.Context, claimant string, lease time.Duration) (time.Time, error)
	ReleaseOut(ctx context.Context, claimant string) error
	MarkOut(ctx context.Context, u store.OutLetter) error
}

// markTimeout bounds recording one attempt's result in the store, which
// happens even while Run is stopping.
const markTimeout = 10 * time.Second

// Outbox is the outbound queue: letters wait in it until a Sender takes
// them, and failed ones are retried with exponential backoff.
//
// An Outbox made by NewStoredOutbox keeps its queue in the store, which
// several nodes may share: Enqueue returns once the letter is committed,
// and the outbox sends only the letters it holds a claim on
// (store.ClaimOut). A letter queued while Run runs is claimed in its own
// commit; Run claims the others every Poll (letters queued before it
// started or by other nodes, retries come due, leases of a node that
// died), renews its leases while it holds them and releases what it did
// not send when it stops. A failed attempt releases the letter with its
// backoff, for whichever node claims it when it is due. A letter whose
// lease ran out here is not sent from here. A letter sent but not yet
// marked when the process dies is sent again: the outbox delivers at
// least once, and the receiver dedupes on Message-ID. An Outbox from
// NewOutbox keeps its queue in memory only.
//
// Enqueue and Pending are safe for concurrent use; Run is called once.
type Outbox struct {
	send Sender
	st   OutboxStore // nil: memory only
	cfg  OutboxConfig
	log  *slog.Logger
	wake chan struct{} // a letter became due sooner; capacity 1
	kick chan struct{} // there may be letters to claim; capacity 1

	mu      sync.Mutex
	waiting outHeap             // guarded by mu: letters by due time
	queued  map[int64]*outEntry // guarded by mu: store ids waiting or being sent
	busy    int                 // guarded by mu: letters being sent
	running bool                // guarded by mu: Run has started and not ended
	closed  bool                // guarded by mu
}

// NewOutbox returns an Outbox in memory that sends through s once Run is
// called: letters still queued when the process stops are lost.
func NewOutbox(s Sender, cfg OutboxConfig, log *slog.Logger) *Outbox {
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultOutboxWorkers
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	cfg.Backoff = orDur(cfg.Backoff, DefaultBackoff)
	cfg.MaxBackoff = orDur(cfg.MaxBackoff, DefaultMaxBackoff)
	cfg.Lease = orDur(cfg.Lease, DefaultOutboxLease)
	cfg.Poll = orDur(cfg.Poll, DefaultOutboxPoll)
	if cfg.Claimant == "" {
		cfg.Claimant = store.NewClaimant("mail")
	}
	return &Outbox{send: s, cfg: cfg, log: orLogger(log), wake: make(chan struct{}, 1),
		kick: make(chan struct{}, 1), queued: make(map[int64]*outEntry)}
}

// NewStoredOutbox returns an Outbox whose queue is kept in st, so letters
// survive a restart; Run resumes the pending ones.
func NewStoredOutbox(s Sender, st OutboxStore, cfg OutboxConfig, log *slog.Logger) *Outbox {
	o := NewOutbox(s, cfg, log)
	o.st = st
	return o
}

// enqueueTimeout bounds Enqueue's store write.
const enqueueTimeout = DefaultStoreTimeout

// Enqueue is EnqueueContext bounded by 30 seconds.
func (o *Outbox) Enqueue(m Outgoing) error {
	ctx, cancel := context.WithTimeout(context.Background(), enqueueTimeout)
	defer cancel()
	return o.EnqueueContext(ctx, m)
}

// EnqueueContext adds m for sending now. With a store it blocks until m
// is committed (or ctx ends), and a letter already queued under m's
// Message-ID is not queued again; without one it does not block.
func (o *Outbox) EnqueueContext(ctx context.Context, m Outgoing) error {
	if len(m.To) == 0 || len(m.Raw) == 0 {
		return fmt.Errorf("enqueue %s: no recipient or no letter", m.MessageID)
	}
	if o.isClosed() {
		return fmt.Errorf("enqueue %s: %w", m.MessageID, ErrOutboxClosed)
	}
	if o.st == nil {
		o.push(&outEntry{m: m, due: time.Now()})
		return nil
	}
	l, _, err := o.st.EnqueueOut(ctx, o.hold(outLetter(m)))
	if err != nil {
		return fmt.Errorf("enqueue %s: %w", m.MessageID, err)
	}
	o.queueStored(l)
	return nil
}

func (o *Outbox) isClosed() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.closed
}

// push queues e unless its stored letter is queued already.
func (o *Outbox) push(e *outEntry) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if e.id != 0 {
		if _, ok := o.queued[e.id]; ok {
			return
		}
		o.queued[e.id] = e
	}
	heap.Push(&o.waiting, e)
	o.signal()
}

// durable reports whether the outbox keeps its queue in a store.
func (o *Outbox) durable() bool { return o != nil && o.st != nil }

// hold returns l claimed by the outbox for a lease, when Run runs, so
// that the commit that queues l also makes it this outbox's to send;
// otherwise l as it is, for Run to claim later.
func (o *Outbox) hold(l store.OutLetter) store.OutLetter {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.running && !o.closed {
		l.ClaimedBy, l.ClaimedUntil = o.cfg.Claimant, time.Now().Add(o.cfg.Lease)
	}
	return l
}

// queueStored queues a letter the caller has put in the outbox's store
// (store.FileLetter, QueueRecipients) with a claim from hold. It reports
// whether the letter is this outbox's to send: a letter already sent or
// given up, one another outbox holds and one queued while Run did not run
// are not (Run claims the last when it can).
func (o *Outbox) queueStored(l store.OutLetter) bool {
	if l.State != store.OutPending {
		return false
	}
	if l.ClaimedBy != o.cfg.Claimant || !time.Now().Before(l.ClaimedUntil) || o.isClosed() {
		o.poke()
		return false
	}
	o.push(entryOf(l))
	return true
}

// poke wakes the claim loop.
func (o *Outbox) poke() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// outLetter is m as a row of the outbox.
func outLetter(m Outgoing) store.OutLetter {
	return store.OutLetter{ItemID: m.ItemID, MessageID: m.MessageID, From: m.From, To: m.To, Raw: m.Raw}
}

// entryOf is a stored letter as a queue entry.
func entryOf(l store.OutLetter) *outEntry {
	return &outEntry{id: l.ID, tries: l.Attempts, due: l.NextAt, until: l.ClaimedUntil, m: Outgoing{ItemID: l.ItemID,
		MessageID: l.MessageID, From: l.From, To: l.To, Raw: l.Raw}}
}

// Pending returns how many letters are waiting or being sent.
func (o *Outbox) Pending() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.waiting.Len() + o.busy
}

func (o *Outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Run sends letters until ctx is done, waits for the sends in flight and
// returns nil. With a store it claims the letters it may send as they
// come due (see Outbox) and, when it ends, releases those it did not
// send, for the next Run or another node; in memory only, letters still
// waiting are lost. Enqueue fails from then on.
func (o *Outbox) Run(ctx context.Context) error {
	o.mu.Lock()
	o.running = true
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		o.closed, o.running = true, false
		o.mu.Unlock()
	}()
	jobs := make(chan *outEntry)
	var wg sync.WaitGroup
	for range o.cfg.Workers {
		wg.Go(func() {
			for e := range jobs {
				o.attempt(ctx, e)
			}
		})
	}
	if o.st != nil {
		wg.Go(func() { o.claimLoop(ctx) })
	}
	o.dispatch(ctx, jobs)
	close(jobs)
	wg.Wait()
	o.mu.Lock()
	o.closed, o.running = true, false // nothing is claimed at enqueue from here on
	o.mu.Unlock()
	o.release(ctx)
	return nil
}

// dispatch hands due letters to the workers and sleeps until the next is
// due or a new one arrives.
func (o *Outbox) dispatch(ctx context.Context, jobs chan<- *outEntry) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		e, wait := o.next()
		if e != nil {
			select {
			case jobs <- e:
				continue
			case <-ctx.Done():
				o.requeue(e, e.due)
				return
			}
		}
		timer.Reset(wait)
		select {
		case <-o.wake:
		case <-timer.C:
		case <-ctx.Done():
			return
		}
	}
}

// next takes the first due letter, or says how long until one is due.
func (o *Outbox) next() (*outEntry, time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.waiting.Len() == 0 {
		return nil, time.Hour
	}
	if wait := time.Until(o.waiting[0].due); wait > 0 {
		return nil, wait
	}
	o.busy++
	return heap.Pop(&o.waiting).(*outEntry), 0
}

func (o *Outbox) requeue(e *outEntry, due time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.busy--
	e.due = due
	heap.Push(&o.waiting, e)
	o.signal()
}

// finish forgets a letter that is sent, given up or left to the store.
func (o *Outbox) finish(e *outEntry) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.busy--
	delete(o.queued, e.id)
	if o.st != nil && len(o.queued) < o.cfg.Workers {
		o.poke() // room for more
	}
}

// attempt sends one letter and retries it later, gives it up or reports
// it done.
func (o *Outbox) attempt(ctx context.Context, e *outEntry) {
	log := o.log.With("item_id", e.m.ItemID, "message_id", e.m.MessageID)
	if !o.holds(e) {
		log.Info("letter's lease ran out before it was sent; left to whoever claims it")
		o.finish(e)
		return
	}
	err := o.send.Send(ctx, e.m)
	if err != nil && ctx.Err() != nil {
		o.requeue(e, time.Now()) // stopped: not an attempt
		return
	}
	e.tries++
	log = log.With("attempt", e.tries)
	var perm *PermanentError
	state, lastErr := store.OutSent, ""
	switch {
	case err == nil:
		log.Debug("letter sent")
	case errors.As(err, &perm) || e.tries >= o.cfg.MaxAttempts:
		log.Warn("letter given up", "err", err)
		state, lastErr = store.OutFailed, err.Error()
	default:
		due := time.Now().Add(o.backoff(e.tries))
		log.Info("letter not sent, will retry", "err", err, "wait", time.Until(due))
		if o.st == nil {
			o.requeue(e, due)
			return
		}
		// Released with its backoff: whichever node claims it when due
		// tries again.
		o.finish(e)
		o.mark(ctx, e, store.OutPending, err.Error(), due, log)
		return
	}
	// Done hears the verdict before the store does: a crash between the
	// two leaves the letter pending, to be sent and reported again, never
	// recorded as done with Done unheard (a mailing's recipient stuck).
	o.finish(e)
	if o.cfg.Done != nil {
		o.cfg.Done(e.m, err)
	}
	o.mark(ctx, e, state, lastErr, time.Now(), log)
}

// mark records an attempt's result in the store, which ends the claim on
// the letter. It runs even while Run stops: a letter sent must not stay
// pending. A failure is logged; at worst the letter is sent again after
// its lease runs out.
func (o *Outbox) mark(ctx context.Context, e *outEntry, state, lastErr string, next time.Time, log *slog.Logger) {
	if o.st == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	err := o.st.MarkOut(ctx, store.OutLetter{ID: e.id, State: state, Attempts: e.tries,
		NextAt: next, LastError: lastErr, ClaimedBy: o.cfg.Claimant})
	switch {
	case errors.Is(err, store.ErrClaimed):
		log.Info("outbox: letter taken over by another sender before its retry was recorded")
	case err != nil:
		log.Error("outbox: attempt not recorded; the letter may be sent again", "state", state, "err", err)
	}
}

// backoff returns the wait after the n-th failure: Backoff doubled n-1
// times, at most MaxBackoff.
func (o *Outbox) backoff(n int) time.Duration {
	d := o.cfg.Backoff
	for i := 1; i < n && d < o.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, o.cfg.MaxBackoff)
}

// outEntry is a letter in the queue.
type outEntry struct {
	id    int64 // in the store; 0 in memory
	m     Outgoing
	due   time.Time
	tries int
	until time.Time // the end of the outbox's lease on it; guarded by Outbox.mu
}

// outHeap orders entries by due time (container/heap).
type outHeap []*outEntry

func (h outHeap) Len() int           { return len(h) }
func (h outHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h outHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *outHeap) Push(x any)        { *h = append(*h, x.(*outEntry)) }
func (h *outHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
