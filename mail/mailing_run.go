package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"

	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/templates"
)

// mailingPoll is how often Run looks for a scheduled mailing that became
// due when nothing woke it.
const mailingPoll = 15 * time.Second

// Run sends the running mailings until ctx ends; it returns nil then. A
// mailing is done when no recipient is pending and none is in flight.
func (ml *Mailer) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ml.wake:
		case <-timer.C:
		}
		wait := ml.pass(ctx)
		timer.Reset(wait)
	}
}

// pass sends every due running mailing as far as it goes and returns how
// long until the next look.
func (ml *Mailer) pass(ctx context.Context) time.Duration {
	ms, err := ml.opt.Store.ListMailings(ctx)
	if err != nil {
		if ctx.Err() == nil {
			ml.log.Warn("mailings not read", "err", err)
		}
		return mailingPoll
	}
	wait := mailingPoll
	for _, m := range ms {
		if m.State != MailingRunning || ctx.Err() != nil {
			continue
		}
		if until := m.ScheduledAt.Sub(ml.opt.Now()); until > 0 {
			wait = min(wait, until)
			continue
		}
		if err := ml.send(ctx, m); err != nil && ctx.Err() == nil {
			ml.log.Warn("mailing stopped, will retry", "mailing_id", m.ID, "err", err)
		}
	}
	return wait
}

// send hands the mailing's pending recipients to the Outbox, paced by its
// rate, until none is left, it is paused or ctx ends.
func (ml *Mailer) send(ctx context.Context, m store.Mailing) error {
	job, err := ml.prepare(ctx, m)
	if err != nil {
		return err
	}
	for !ml.isPaused(m.ID) {
		rs, err := ml.opt.Store.PendingRecipients(ctx, m.ID, 200)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return ml.finish(ctx, m.ID)
		}
		for len(rs) > 0 {
			if ml.isPaused(m.ID) || !ml.waitRoom(ctx, m.ID) {
				return nil
			}
			n := ml.batchSize(job, m.ID)
			chunk := rs[:min(n, len(rs))]
			rs = rs[len(chunk):]
			if err := ml.some(ctx, job, chunk); err != nil {
				return err
			}
			if !job.pace(ctx) {
				return nil
			}
		}
	}
	return nil
}

// batchSize is how many recipients go into one hand-over: one at a time
// under a rate or to an outbox in memory, else as many as there is room
// for in flight, so a fast mailing costs one commit per batch.
func (ml *Mailer) batchSize(j *job, id int64) int {
	if j.interval > 0 || ml.stored == nil {
		return 1
	}
	ml.mu.Lock()
	defer ml.mu.Unlock()
	return max(1, maxInFlight-ml.flights[id])
}

// some sends the letters of recipients rs: through one durable hand-over
// with a stored outbox, else one by one.
func (ml *Mailer) some(ctx context.Context, j *job, rs []store.Recipient) error {
	if ml.stored == nil {
		for _, r := range rs {
			if err := ml.one(ctx, j, r); err != nil {
				return err
			}
		}
		return nil
	}
	var hs []handover
	for _, r := range rs {
		out, ok, err := ml.render(ctx, j, r)
		if err != nil {
			return err
		}
		if ok {
			hs = append(hs, handover{r: r, out: out})
		}
	}
	return ml.handOver(ctx, hs)
}

// job is a mailing being sent: its template in every language.
type job struct {
	m        store.Mailing
	versions []store.Template // the template's languages
	name     string
	queue    string        // the template's queue, empty for all
	interval time.Duration // between two letters; 0 for no limit
	next     time.Time
}

func (ml *Mailer) prepare(ctx context.Context, m store.Mailing) (*job, error) {
	t, err := ml.opt.Store.Template(ctx, m.TemplateID)
	if err != nil {
		return nil, fmt.Errorf("mailing %d: template %d: %w", m.ID, m.TemplateID, err)
	}
	all, err := ml.opt.Store.ListTemplates(ctx)
	if err != nil {
		return nil, fmt.Errorf("mailing %d: templates: %w", m.ID, err)
	}
	j := &job{m: m, name: t.Name, queue: t.Queue, next: time.Now()}
	for _, v := range all {
		if v.Name == t.Name && (v.Queue == "" || v.Queue == t.Queue) {
			j.versions = append(j.versions, v)
		}
	}
	if m.RatePerMin > 0 {
		j.interval = time.Minute / time.Duration(m.RatePerMin)
	}
	return j, nil
}

// pace waits for the next letter's turn; false means ctx ended.
func (j *job) pace(ctx context.Context) bool {
	if j.interval == 0 {
		return true
	}
	j.next = j.next.Add(j.interval)
	if now := time.Now(); j.next.Before(now) {
		j.next = now // no burst to catch up after a pause
	}
	t := time.NewTimer(time.Until(j.next))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// render makes the letter of recipient r; ok is false when r gets none
// (unsubscribed, no address, a template that does not render), which is
// then marked.
func (ml *Mailer) render(ctx context.Context, j *job, r store.Recipient) (out Outgoing, ok bool, err error) {
	c, err := ml.opt.Store.Contact(ctx, r.ContactID)
	if err != nil {
		return Outgoing{}, false, fmt.Errorf("mailing %d: contact %d: %w", r.MailingID, r.ContactID, err)
	}
	to, hasEmail := emailOf(c)
	switch {
	case Unsubscribed(c):
		r.State = "unsubscribed"
		return Outgoing{}, false, ml.mark(ctx, r)
	case !hasEmail:
		r.State, r.Error = "failed", "no email address"
		return Outgoing{}, false, ml.mark(ctx, r)
	}
	out, err = ml.letter(j, c, to)
	if err != nil {
		r.State, r.Error = "failed", err.Error()
		return Outgoing{}, false, ml.mark(ctx, r)
	}
	return out, true, nil
}

// one renders, records and enqueues the letter of recipient r to an
// outbox in memory.
func (ml *Mailer) one(ctx context.Context, j *job, r store.Recipient) error {
	out, ok, err := ml.render(ctx, j, r)
	if !ok || err != nil {
		return err
	}
	r.State = recipientSending
	if err := ml.mark(ctx, r); err != nil {
		return err
	}
	ml.fly(out.MessageID, r)
	if err := ml.opt.Outbox.Enqueue(out); err != nil {
		ml.land(out.MessageID)
		r.State = "pending"
		return fmt.Errorf("mailing %d: %w", r.MailingID, errorsJoin(err, ml.mark(ctx, r)))
	}
	return nil
}

// handover is one recipient's letter on its way into the stored outbox.
type handover struct {
	r   store.Recipient
	out Outgoing
}

// handOver marks the recipients queued and puts their letters in the
// stored outbox in one commit, then queues them for sending. A letter's
// Message-ID is the mailing's and the contact's, so a hand-over repeated
// after a crash (the commit made, the answer lost) finds the letter
// queued before instead of queueing a second; a letter found already done
// gives its recipient the verdict.
func (ml *Mailer) handOver(ctx context.Context, hs []handover) error {
	if len(hs) == 0 {
		return nil
	}
	batch := make([]store.Handover, len(hs))
	for i := range hs {
		hs[i].r.State, hs[i].r.SentAt = recipientQueued, ml.opt.Now()
		batch[i] = store.Handover{Recipient: hs[i].r, Letter: ml.stored.hold(outLetter(hs[i].out))}
		ml.fly(hs[i].out.MessageID, hs[i].r)
	}
	// Like mark, never cut short: a commit reported as cancelled would
	// leave the hand-over unknown.
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultStoreTimeout)
	defer cancel()
	ls, err := ml.opt.Store.QueueRecipients(qctx, batch)
	if err != nil {
		for _, h := range hs {
			ml.land(h.out.MessageID)
		}
		return fmt.Errorf("mailing %d: hand over %d letters: %w", hs[0].r.MailingID, len(hs), err)
	}
	for i, l := range ls {
		switch l.State {
		case store.OutPending:
			if !ml.stored.queueStored(l) {
				// Another node's, or the outbox has stopped: whoever claims
				// it reports it done (OnDone), here or on that node.
				ml.land(hs[i].out.MessageID)
			}
		case store.OutSent:
			ml.OnDone(hs[i].out, nil)
		default:
			ml.OnDone(hs[i].out, errors.New(l.LastError))
		}
	}
	return nil
}

// mailingMessageID is the Message-ID of mailing mid's letter to contact
// cid on domain: the same at every attempt and after a restart.
func mailingMessageID(mid, cid int64, domain string) string {
	return "mailing-" + idString(mid) + "-" + idString(cid) + "@" + domain
}

// parseMailingMessageID returns the mailing and contact a Message-ID of
// mailingMessageID names; ok is false for any other Message-ID.
func parseMailingMessageID(id string) (mid, cid int64, ok bool) {
	rest, found := strings.CutPrefix(id, "mailing-")
	local, _, at := strings.Cut(rest, "@")
	m, c, dash := strings.Cut(local, "-")
	if !found || !at || !dash {
		return 0, 0, false
	}
	mid, err1 := strconv.ParseInt(m, 10, 64)
	cid, err2 := strconv.ParseInt(c, 10, 64)
	return mid, cid, err1 == nil && err2 == nil && mid > 0 && cid > 0
}

// IsMailingLetter reports whether messageID names a mailing's letter. A
// stored outbox that is not the mailings' leaves those letters alone
// (OutboxConfig.Mailings).
func IsMailingLetter(messageID string) bool {
	_, _, ok := parseMailingMessageID(messageID)
	return ok
}

func errorsJoin(a, b error) error {
	if b == nil {
		return a
	}
	return fmt.Errorf("%w; and not put back: %w", a, b)
}

func (ml *Mailer) mark(ctx context.Context, r store.Recipient) error {
	if r.State == "sent" || r.State == recipientSending || r.State == recipientQueued {
		r.SentAt = ml.opt.Now()
	}
	// A mark is never cut short by a stopping Run: one that committed but
	// reported the cancellation would leave the recipient's state unknown.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultStoreTimeout)
	defer cancel()
	if err := ml.opt.Store.MarkRecipient(ctx, r); err != nil {
		return fmt.Errorf("mailing %d: %w", r.MailingID, err)
	}
	return nil
}

// letter renders the recipient's letter in their language.
func (ml *Mailer) letter(j *job, c store.Contact, to string) (Outgoing, error) {
	t, ok := templates.Pick(j.versions, j.name, c.Lang, j.queue)
	if !ok {
		return Outgoing{}, fmt.Errorf("template %q is gone", j.name)
	}
	msg, err := templates.Fill(t, templates.Data{Contact: c})
	if err != nil {
		return Outgoing{}, err
	}
	id := NewMessageID(ml.opt.Domain)
	if ml.stored != nil {
		id = mailingMessageID(j.m.ID, c.ID, ml.opt.Domain)
	}
	var buf bytes.Buffer
	b := bulk{from: ml.opt.From, to: Address{Name: c.Name, Addr: to}, subject: msg.Subject, text: msg.Body,
		unsubscribe: ml.opt.Unsubscribes.URL(j.m.ID, c.ID), listID: "mailing-" + idString(j.m.ID) + "." + ml.opt.Domain,
		date: ml.opt.Now()}
	if err := b.write(&buf, id); err != nil {
		return Outgoing{}, fmt.Errorf("compose to %s: %w", to, err)
	}
	return Outgoing{MessageID: id, From: ml.opt.From.Addr, To: []string{to}, Raw: buf.Bytes()}, nil
}

// finish marks a mailing done once nothing of it is in flight: none of
// the letters handed over by this process, and none resumed by a stored
// outbox from before a restart (recipients still queued).
func (ml *Mailer) finish(ctx context.Context, id int64) error {
	if ml.flying(id) {
		return nil // OnDone of the last letter wakes Run to finish it
	}
	if ml.stored != nil {
		n, err := ml.opt.Store.CountRecipients(ctx, id, recipientQueued)
		if err != nil || n > 0 {
			return err // as above: each resumed letter's OnDone wakes Run
		}
	}
	_, err := ml.setState(ctx, id, MailingDone)
	return err
}

// flying reports whether a letter of mailing id is in the Outbox.
func (ml *Mailer) flying(id int64) bool {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	return ml.flights[id] > 0
}

// fly and land track a letter handed to the Outbox until it is done.
func (ml *Mailer) fly(messageID string, r store.Recipient) {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	ml.inflight[messageID] = r
	ml.flights[r.MailingID]++
}

func (ml *Mailer) land(messageID string) {
	ml.mu.Lock()
	r, ok := ml.inflight[messageID]
	if ok {
		delete(ml.inflight, messageID)
		ml.flights[r.MailingID]--
	}
	ml.mu.Unlock()
	select {
	case ml.room <- struct{}{}:
	default:
	}
}

// maxInFlight bounds a mailing's letters in the Outbox at once: they are
// what a stop puts back and what a crash leaves "sending".
const maxInFlight = 64

// waitRoom blocks while mailing id has maxInFlight letters in the Outbox;
// false means ctx ended.
func (ml *Mailer) waitRoom(ctx context.Context, id int64) bool {
	for {
		ml.mu.Lock()
		n := ml.flights[id]
		ml.mu.Unlock()
		if n < maxInFlight {
			return true
		}
		select {
		case <-ml.room:
		case <-ctx.Done():
			return false
		}
	}
}

// OnDone records the Outbox's verdict on a letter; it is the Outbox's
// Done callback. It reports whether the letter was a mailing's.
func (ml *Mailer) OnDone(m Outgoing, sendErr error) bool {
	ml.mu.Lock()
	r, ok := ml.inflight[m.MessageID]
	ml.mu.Unlock()
	if !ok && ml.stored != nil {
		// Handed over before a restart: the stored outbox resumed it.
		mid, cid, mine := parseMailingMessageID(m.MessageID)
		r, ok = store.Recipient{MailingID: mid, ContactID: cid}, mine
	}
	if !ok {
		return false
	}
	r.State, r.Error = "sent", ""
	if sendErr != nil {
		r.State, r.Error = "failed", sendErr.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultStoreTimeout)
	defer cancel()
	if err := ml.mark(ctx, r); err != nil {
		// Landed all the same, so that Release does not put it back: it
		// stays sending and is not sent again.
		ml.log.Error("mailing recipient not marked; it stays sending", "mailing_id", r.MailingID,
			"contact_id", r.ContactID, "state", r.State, "err", err)
		ml.land(m.MessageID)
		return true
	}
	ml.land(m.MessageID)
	ml.progress(ctx, r.MailingID)
	return true
}

func (ml *Mailer) progress(ctx context.Context, id int64) {
	if ml.flying(id) && !ml.due(id) {
		return
	}
	mg, err := ml.opt.Store.Mailing(ctx, id)
	if err != nil {
		return
	}
	if mg.State == MailingRunning && !ml.flying(id) {
		ml.wakeUp() // maybe the last one: let Run mark it done
	}
	ml.report(mg, false)
}

func (ml *Mailer) wakeUp() {
	select {
	case ml.wake <- struct{}{}:
	default:
	}
}

// Release puts the recipients whose letters were enqueued but never
// reported done back to pending. Call it after Run and the Outbox's Run
// have returned: their letters are then never sent by this process. With
// a stored outbox there is nothing to put back: the letters wait in the
// store, and the next start sends them.
func (ml *Mailer) Release(ctx context.Context) error {
	ml.mu.Lock()
	rs := make([]store.Recipient, 0, len(ml.inflight))
	for id, r := range ml.inflight {
		rs = append(rs, r)
		delete(ml.inflight, id)
		ml.flights[r.MailingID]--
	}
	ml.mu.Unlock()
	if ml.stored != nil {
		return nil
	}
	var first error
	for _, r := range rs {
		r.State = "pending"
		if err := ml.mark(ctx, r); err != nil && first == nil {
			first = err
		}
	}
	if len(rs) > 0 {
		ml.log.Info("mailing letters not sent put back", "count", len(rs))
	}
	return first
}

// bulk is one mailing letter.
type bulk struct {
	from, to      Address
	subject, text string
	unsubscribe   string // the signed https link
	listID        string
	date          time.Time
}

// write writes b as an RFC 5322 letter with Message-ID id. It carries
// List-Unsubscribe and List-Unsubscribe-Post (RFC 2369 §3.2, RFC 8058 §3.1)
// so a mail client offers one-click unsubscribe, List-Id (RFC 2919),
// Precedence: bulk and Auto-Submitted: auto-generated (RFC 3834 §5), so
// that responders do not answer it.
func (b bulk) write(w io.Writer, id string) error {
	var h gomail.Header
	h.SetAddressList("From", []*gomail.Address{{Name: b.from.Name, Address: b.from.Addr}})
	h.SetAddressList("To", []*gomail.Address{{Name: b.to.Name, Address: b.to.Addr}})
	h.SetSubject(oneLine(b.subject))
	h.SetDate(b.date)
	h.SetMessageID(id)
	h.Set("List-Id", "<"+b.listID+">")
	h.Set("List-Unsubscribe", "<"+b.unsubscribe+">")
	h.Set("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	h.Set("Precedence", "bulk")
	h.Set("Auto-Submitted", "auto-generated")
	h.Set("MIME-Version", "1.0")
	h.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	h.Set("Content-Transfer-Encoding", "quoted-printable")
	mw, err := message.CreateWriter(w, h.Header)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(mw, b.text); err != nil {
		return err
	}
	return mw.Close()
}

// Uncancelled returns a Sender that lets every letter it has begun to
// send finish, whatever its context: a letter cut off after its DATA may
// have been accepted without Moroz hearing the 250, and would be sent
// twice. The relay's own timeout still bounds it. Give it to the Outbox
// that carries mailings, so that when the node stops, each letter is
// either reported done or was never begun, and Release puts back only the
// latter.
func Uncancelled(s Sender) Sender { return uncancelled{s} }

type uncancelled struct{ s Sender }

func (u uncancelled) Send(ctx context.Context, m Outgoing) error {
	return u.s.Send(context.WithoutCancel(ctx), m)
}
