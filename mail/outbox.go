package mail

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
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
	// or the last error when it was given up. It runs on a worker and must
	// not block for long.
	Done func(m Outgoing, err error) `yaml:"-"`
}

// Outbox is the outbound queue: letters wait in it until a Sender takes
// them, and failed ones are retried with exponential backoff.
//
// TODO(#7): the queue lives in memory, because the store has no outbox
// table yet: letters not yet sent when the process stops are lost. The
// letters themselves are kept as outbound Messages of their items.
//
// Enqueue and Pending are safe for concurrent use; Run is called once.
type Outbox struct {
	send Sender
	cfg  OutboxConfig
	log  *slog.Logger
	wake chan struct{} // a letter became due sooner; capacity 1

	mu      sync.Mutex
	waiting outHeap // guarded by mu: letters by due time
	busy    int     // guarded by mu: letters being sent
	closed  bool    // guarded by mu
}

// NewOutbox returns an Outbox that sends through s once Run is called.
func NewOutbox(s Sender, cfg OutboxConfig, log *slog.Logger) *Outbox {
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultOutboxWorkers
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	cfg.Backoff = orDur(cfg.Backoff, DefaultBackoff)
	cfg.MaxBackoff = orDur(cfg.MaxBackoff, DefaultMaxBackoff)
	return &Outbox{send: s, cfg: cfg, log: log, wake: make(chan struct{}, 1)}
}

// Enqueue adds m for sending now. It does not block.
func (o *Outbox) Enqueue(m Outgoing) error {
	if len(m.To) == 0 || len(m.Raw) == 0 {
		return fmt.Errorf("enqueue %s: no recipient or no letter", m.MessageID)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return fmt.Errorf("enqueue %s: %w", m.MessageID, ErrOutboxClosed)
	}
	heap.Push(&o.waiting, &outEntry{m: m, due: time.Now()})
	o.signal()
	return nil
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

// Run sends letters until ctx is done, then waits for the sends in flight
// and returns nil. Letters still waiting stay in memory (see the TODO on
// Outbox); Enqueue fails from then on.
func (o *Outbox) Run(ctx context.Context) error {
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
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
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

// attempt sends one letter and retries it later, gives it up or reports
// it done.
func (o *Outbox) attempt(ctx context.Context, e *outEntry) {
	e.tries++
	err := o.send.Send(ctx, e.m)
	log := o.log.With("item_id", e.m.ItemID, "message_id", e.m.MessageID, "attempt", e.tries)
	var perm *PermanentError
	switch {
	case err == nil:
		log.Debug("letter sent")
	case ctx.Err() != nil:
		o.requeue(e, time.Now())
		return
	case errors.As(err, &perm) || e.tries >= o.cfg.MaxAttempts:
		log.Warn("letter given up", "err", err)
	default:
		wait := o.backoff(e.tries)
		log.Info("letter not sent, will retry", "err", err, "wait", wait)
		o.requeue(e, time.Now().Add(wait))
		return
	}
	o.mu.Lock()
	o.busy--
	o.mu.Unlock()
	if o.cfg.Done != nil {
		o.cfg.Done(e.m, err)
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
