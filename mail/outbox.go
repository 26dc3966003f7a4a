package mail

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/morozhq/moroz/acd"
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
	// Take, when set, says which of the letters pending in the store
	// Run resumes, by Message-ID, so that two stored outboxes over one
	// store (replies and mailings) each resume only their own. Nil takes
	// every letter.
	Take func(messageID string) bool `yaml:"-"`
}

// OutboxStore is the part of store.Store an Outbox keeps its queue in;
// every store.Store is one.
type OutboxStore interface {
	EnqueueOut(ctx context.Context, l store.OutLetter) (store.OutLetter, bool, error)
	PendingOut(ctx context.Context, channel acd.Channel, afterID int64, limit int) ([]store.OutLetter, error)
	MarkOut(ctx context.Context, u store.OutLetter) error
}

// markTimeout bounds recording one attempt's result in the store, which
// happens even while Run is stopping.
const markTimeout = 10 * time.Second

// Outbox is the outbound queue: letters wait in it until a Sender takes
// them, and failed ones are retried with exponential backoff.
//
// An Outbox made by NewStoredOutbox keeps its queue in the store: Enqueue
// returns once the letter is committed, every attempt's result is
// recorded, and Run starts by loading the letters still pending, with
// their attempts and next attempt times, so a restart resumes them. A
// letter sent but not yet marked when the process dies is sent again: the
// outbox delivers at least once, and the receiver dedupes on Message-ID.
// An Outbox from NewOutbox keeps its queue in memory only.
//
// Enqueue and Pending are safe for concurrent use; Run is called once.
type Outbox struct {
	send Sender
	st   OutboxStore // nil: memory only
	cfg  OutboxConfig
	log  *slog.Logger
	wake chan struct{} // a letter became due sooner; capacity 1

	mu      sync.Mutex
	waiting outHeap            // guarded by mu: letters by due time
	queued  map[int64]struct{} // guarded by mu: store ids waiting or being sent
	busy    int                // guarded by mu: letters being sent
	closed  bool               // guarded by mu
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
	return &Outbox{send: s, cfg: cfg, log: orLogger(log), wake: make(chan struct{}, 1),
		queued: make(map[int64]struct{})}
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
	e := &outEntry{m: m, due: time.Now()}
	if o.st != nil {
		l, created, err := o.st.EnqueueOut(ctx, outLetter(m))
		if err != nil {
			return fmt.Errorf("enqueue %s: %w", m.MessageID, err)
		}
		if !created && l.State != store.OutPending {
			return nil // sent or given up before
		}
		e = entryOf(l)
	}
	o.push(e)
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
		o.queued[e.id] = struct{}{}
	}
	heap.Push(&o.waiting, e)
	o.signal()
}

// durable reports whether the outbox keeps its queue in a store.
func (o *Outbox) durable() bool { return o != nil && o.st != nil }

// queueStored queues a letter the caller has put in the outbox's store
// (store.FileLetter); a letter already sent or given up is not queued.
// After Run has ended it stays in the store for the next Run.
func (o *Outbox) queueStored(l store.OutLetter) {
	if l.State != store.OutPending || o.isClosed() {
		return
	}
	o.push(entryOf(l))
}

// outLetter is m as a row of the outbox.
func outLetter(m Outgoing) store.OutLetter {
	return store.OutLetter{ItemID: m.ItemID, MessageID: m.MessageID, From: m.From, To: m.To, Raw: m.Raw}
}

// entryOf is a stored letter as a queue entry.
func entryOf(l store.OutLetter) *outEntry {
	return &outEntry{id: l.ID, tries: l.Attempts, due: l.NextAt, m: Outgoing{ItemID: l.ItemID,
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

// Run loads the letters pending in the store, if any, then sends letters
// until ctx is done, waits for the sends in flight and returns nil.
// Letters still waiting stay in the store for the next Run (in memory
// only, they are lost); Enqueue fails from then on. It returns an error
// only when the pending letters cannot be loaded.
func (o *Outbox) Run(ctx context.Context) error {
	defer func() {
		o.mu.Lock()
		o.closed = true
		o.mu.Unlock()
	}()
	if err := o.load(ctx); err != nil {
		return err
	}
	jobs := make(chan *outEntry)
	var wg sync.WaitGroup
	for range o.cfg.Workers {
		wg.Go(func() {
			for e := range jobs {
				o.attempt(ctx, e)
			}
		})
	}
	o.dispatch(ctx, jobs)
	close(jobs)
	wg.Wait()
	return nil
}

// load queues every pending letter of the store.
func (o *Outbox) load(ctx context.Context) error {
	if o.st == nil {
		return nil
	}
	var after int64
	n := 0
	for {
		ls, err := o.st.PendingOut(ctx, acd.Email, after, 1000)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("outbox: load pending letters: %w", err)
		}
		if len(ls) == 0 {
			break
		}
		for _, l := range ls {
			after = l.ID
			if o.cfg.Take != nil && !o.cfg.Take(l.MessageID) {
				continue
			}
			o.push(entryOf(l))
			n++
		}
	}
	if n > 0 {
		o.log.Info("outbox resumed pending letters", "letters", n)
	}
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

// finish forgets a letter that is sent or given up.
func (o *Outbox) finish(e *outEntry) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.busy--
	delete(o.queued, e.id)
}

// attempt sends one letter and retries it later, gives it up or reports
// it done.
func (o *Outbox) attempt(ctx context.Context, e *outEntry) {
	err := o.send.Send(ctx, e.m)
	if err != nil && ctx.Err() != nil {
		o.requeue(e, time.Now()) // stopped: not an attempt
		return
	}
	e.tries++
	log := o.log.With("item_id", e.m.ItemID, "message_id", e.m.MessageID, "attempt", e.tries)
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
		o.mark(ctx, e, store.OutPending, err.Error(), due, log)
		o.requeue(e, due)
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

// mark records an attempt's result in the store. It runs even while Run
// stops: a letter sent must not stay pending. A failure is logged; at
// worst the letter is sent again after a restart.
func (o *Outbox) mark(ctx context.Context, e *outEntry, state, lastErr string, next time.Time, log *slog.Logger) {
	if o.st == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	err := o.st.MarkOut(ctx, store.OutLetter{ID: e.id, State: state, Attempts: e.tries,
		NextAt: next, LastError: lastErr})
	if err != nil {
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
