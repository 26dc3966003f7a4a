package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/templates"
)

// Mailing states, as store.Mailing.State holds them.
const (
	MailingDraft   = "draft"
	MailingRunning = "running"
	MailingPaused  = "paused"
	MailingDone    = "done"
)

// Recipient states beyond the store's pending, sent, failed and
// unsubscribed: queued is written in the commit that puts the letter in a
// stored outbox; sending before a letter is handed to an outbox in memory.
const (
	recipientQueued  = "queued"
	recipientSending = "sending"
)

// Audience says who a mailing goes to: every contact with an email address
// who has an item created at or after Since, optionally only in Queue or
// on Channel.
type Audience struct {
	Since   time.Time   `json:"since"`
	Queue   string      `json:"queue,omitempty"`
	Channel acd.Channel `json:"channel,omitempty"`
}

// Enqueuer takes letters for sending; *Outbox is one.
type Enqueuer interface {
	Enqueue(m Outgoing) error
}

// MailerOptions configure a Mailer. Store, Outbox, Unsubscribes and Logger
// are required.
type MailerOptions struct {
	Store        store.Store
	Outbox       Enqueuer
	Unsubscribes *Unsubscribes
	From         Address // the mailings' sender, on Domain
	Domain       string  // names the letters' Message-IDs
	Logger       *slog.Logger
	// Progress, when set, is told of a mailing's state and counts as they
	// change, at most every ProgressEvery per mailing and at every change
	// of state. It must not block.
	Progress      func(store.Mailing)
	ProgressEvery time.Duration // default 250ms
	Now           func() time.Time
}

// Mailer runs personalised mailings: it resolves a mailing's audience into
// recipients when it starts, then renders each recipient's letter from the
// template in the contact's language and hands it to the Outbox, no faster
// than the mailing's rate.
//
// # Exactly one letter per contact
//
// With an Outbox that keeps its queue in the store (NewStoredOutbox), a
// recipient is marked "queued" in the same commit that puts its letter in
// the store's outbox (store.QueueRecipient), and "sent" (or "failed") when
// the Outbox reports it done (OnDone), also for letters the Outbox resumed
// after a restart. Only "pending" recipients are ever picked, and the
// letter's Message-ID is derived from the mailing and the contact, so a
// crash at any point leaves each recipient either pending (nothing
// stored) or with exactly one letter in the outbox, which the next start
// sends with the Outbox's retries. Like every stored letter, one whose
// relay said 250 just before a crash is sent again, with the same
// Message-ID; the receiver dedupes on it. Release has nothing to put back.
//
// With an Outbox in memory, a recipient is marked "sending" before its
// letter is enqueued, Release puts those the Outbox still held back to
// "pending" (call it after the Outbox's Run has returned), and after a
// crash the "sending" ones are not sent again: Moroz then prefers a
// missed greeting to a doubled one.
//
// At most maxInFlight (64) letters of a mailing are in the Outbox at once.
// A mailing is marked done when none of its recipients is pending or
// queued and none of its letters is in flight.
//
// Start, Pause, Resume, Create and OnDone are safe for concurrent use; Run
// is called once.
type Mailer struct {
	opt    MailerOptions
	stored *Outbox // opt.Outbox when it keeps its queue in the store, else nil
	log    *slog.Logger
	wake   chan struct{} // capacity 1
	room   chan struct{} // capacity 1: a letter in flight was done

	mu        sync.Mutex
	inflight  map[string]store.Recipient // guarded by mu: by Message-ID, enqueued and not yet done
	flights   map[int64]int              // guarded by mu: len(inflight) per mailing
	paused    map[int64]bool             // guarded by mu: mailings paused since Run read them
	published map[int64]time.Time        // guarded by mu: last progress report per mailing
}

// NewMailer returns a Mailer; it sends nothing until Run.
func NewMailer(opt MailerOptions) (*Mailer, error) {
	if opt.Store == nil || opt.Outbox == nil || opt.Unsubscribes == nil || opt.Logger == nil {
		return nil, errors.New("mailer: Store, Outbox, Unsubscribes and Logger are required")
	}
	if opt.From.Addr == "" || opt.Domain == "" {
		return nil, errors.New("mailer: From and Domain are required")
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.ProgressEvery <= 0 {
		opt.ProgressEvery = 250 * time.Millisecond
	}
	var stored *Outbox
	if o, ok := opt.Outbox.(*Outbox); ok && o.durable() {
		stored = o
	}
	return &Mailer{opt: opt, stored: stored, log: opt.Logger, wake: make(chan struct{}, 1), room: make(chan struct{}, 1),
		inflight: map[string]store.Recipient{}, flights: map[int64]int{}, paused: map[int64]bool{},
		published: map[int64]time.Time{}}, nil
}

// Draft is a new mailing as the API gives it.
type Draft struct {
	Name        string
	TemplateID  int64
	Audience    Audience
	RatePerMin  int       // 0 means as fast as the Outbox takes them
	ScheduledAt time.Time // zero means as soon as it is started
}

// ErrMailingState means the mailing is not in a state the action applies
// to (starting a mailing that is done, pausing a draft).
var ErrMailingState = errors.New("mailing is not in that state")

// Create checks d (a template that exists and parses, a rate not below
// zero) and stores it as a draft.
func (ml *Mailer) Create(ctx context.Context, d Draft) (store.Mailing, error) {
	if d.RatePerMin < 0 {
		return store.Mailing{}, fmt.Errorf("create mailing %q: rate below zero: %w", d.Name, store.ErrInvalid)
	}
	t, err := ml.opt.Store.Template(ctx, d.TemplateID)
	if errors.Is(err, store.ErrNotFound) {
		err = fmt.Errorf("%w: %w", err, store.ErrInvalid) // the draft is wrong, not the address
	}
	if err != nil {
		return store.Mailing{}, fmt.Errorf("create mailing %q: template %d: %w", d.Name, d.TemplateID, err)
	}
	if err := templates.Check(t.Subject, t.Body); err != nil {
		return store.Mailing{}, fmt.Errorf("create mailing %q: template %d: %w: %w", d.Name, t.ID, err, store.ErrInvalid)
	}
	aud, err := json.Marshal(d.Audience)
	if err != nil {
		return store.Mailing{}, fmt.Errorf("create mailing %q: audience: %w", d.Name, err)
	}
	return ml.opt.Store.PutMailing(ctx, store.Mailing{Name: d.Name, TemplateID: d.TemplateID, Audience: aud,
		State: MailingDraft, RatePerMin: d.RatePerMin, ScheduledAt: d.ScheduledAt})
}

// Start resolves a draft's audience into its recipients and sets it
// running; Run sends from its ScheduledAt on. Starting a running mailing
// is no error.
func (ml *Mailer) Start(ctx context.Context, id int64) (store.Mailing, error) {
	m, err := ml.opt.Store.Mailing(ctx, id)
	if err != nil {
		return store.Mailing{}, fmt.Errorf("start mailing %d: %w", id, err)
	}
	switch m.State {
	case MailingRunning:
		return m, nil
	case MailingDraft:
	default:
		return store.Mailing{}, fmt.Errorf("start mailing %d: %s: %w", id, m.State, ErrMailingState)
	}
	var aud Audience
	if err := json.Unmarshal(m.Audience, &aud); err != nil {
		return store.Mailing{}, fmt.Errorf("start mailing %d: audience: %w", id, err)
	}
	contacts, err := ml.audience(ctx, aud)
	if err != nil {
		return store.Mailing{}, fmt.Errorf("start mailing %d: %w", id, err)
	}
	if _, err := ml.opt.Store.AddRecipients(ctx, id, contacts); err != nil {
		return store.Mailing{}, fmt.Errorf("start mailing %d: %w", id, err)
	}
	return ml.setState(ctx, id, MailingRunning)
}

// audience returns the contacts aud selects, in ID order of their first
// item, each once.
func (ml *Mailer) audience(ctx context.Context, aud Audience) ([]int64, error) {
	seen := map[int64]bool{}
	var ids []int64
	f := store.ItemFilter{Queue: aud.Queue, Channel: aud.Channel, Limit: 1000}
	for {
		items, err := ml.opt.Store.ListItems(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("audience: %w", err)
		}
		for _, it := range items {
			if it.ContactID == 0 || seen[it.ContactID] || it.CreatedAt.Before(aud.Since) {
				continue
			}
			seen[it.ContactID] = true
			if ok, err := ml.hasEmail(ctx, it.ContactID); err != nil {
				return nil, err
			} else if ok {
				ids = append(ids, it.ContactID)
			}
		}
		if len(items) < f.Limit {
			return ids, nil
		}
		f.AfterID = items[len(items)-1].ID
	}
}

func (ml *Mailer) hasEmail(ctx context.Context, contactID int64) (bool, error) {
	c, err := ml.opt.Store.Contact(ctx, contactID)
	if err != nil {
		return false, fmt.Errorf("audience: contact %d: %w", contactID, err)
	}
	_, ok := emailOf(c)
	return ok, nil
}

func emailOf(c store.Contact) (string, bool) {
	for _, id := range c.Identities {
		if id.Kind == "email" && id.Value != "" {
			return id.Value, true
		}
	}
	return "", false
}

// Pause stops a running mailing after the letter being handed over.
func (ml *Mailer) Pause(ctx context.Context, id int64) (store.Mailing, error) {
	return ml.move(ctx, id, MailingRunning, MailingPaused)
}

// Resume sets a paused mailing running again.
func (ml *Mailer) Resume(ctx context.Context, id int64) (store.Mailing, error) {
	return ml.move(ctx, id, MailingPaused, MailingRunning)
}

func (ml *Mailer) move(ctx context.Context, id int64, from, to string) (store.Mailing, error) {
	m, err := ml.opt.Store.Mailing(ctx, id)
	if err != nil {
		return store.Mailing{}, fmt.Errorf("%s mailing %d: %w", to, id, err)
	}
	if m.State == to {
		return m, nil
	}
	if m.State != from {
		return store.Mailing{}, fmt.Errorf("%s mailing %d: %s: %w", to, id, m.State, ErrMailingState)
	}
	return ml.setState(ctx, id, to)
}

// setState writes a mailing's state, tells Run and reports progress.
func (ml *Mailer) setState(ctx context.Context, id int64, state string) (store.Mailing, error) {
	ml.mu.Lock()
	ml.paused[id] = state == MailingPaused
	ml.mu.Unlock()
	m, err := ml.opt.Store.Mailing(ctx, id)
	if err == nil {
		m.State = state
		m, err = ml.opt.Store.PutMailing(ctx, m)
	}
	if err != nil {
		return store.Mailing{}, fmt.Errorf("mailing %d: set %s: %w", id, state, err)
	}
	ml.log.Info("mailing "+state, "mailing_id", id, "total", m.Total, "sent", m.Sent)
	ml.report(m, true)
	select {
	case ml.wake <- struct{}{}:
	default:
	}
	return m, nil
}

func (ml *Mailer) isPaused(id int64) bool {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	return ml.paused[id]
}

// due reports whether a progress report of mailing id is due.
func (ml *Mailer) due(id int64) bool {
	if ml.opt.Progress == nil {
		return false
	}
	ml.mu.Lock()
	defer ml.mu.Unlock()
	return ml.opt.Now().Sub(ml.published[id]) >= ml.opt.ProgressEvery
}

// report hands m to Progress when it is due or forced.
func (ml *Mailer) report(m store.Mailing, force bool) {
	if ml.opt.Progress == nil {
		return
	}
	now := ml.opt.Now()
	ml.mu.Lock()
	due := force || now.Sub(ml.published[m.ID]) >= ml.opt.ProgressEvery
	if due {
		ml.published[m.ID] = now
	}
	ml.mu.Unlock()
	if due {
		ml.opt.Progress(m)
	}
}

func idString(id int64) string { return strconv.FormatInt(id, 10) }
