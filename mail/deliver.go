package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

// Event types the intake writes into an item's history.
const (
	EventReceived = "received" // the item's first event: a letter arrived
	EventMessage  = "message"  // a reply joined an open item's thread
)

// maxThreadLookups bounds how many References a reply may make the intake
// look up.
const maxThreadLookups = 10

// received is what storing one letter did.
type received struct {
	item      store.Item
	messageID string
	created   bool // a new item was made
	threaded  bool // the letter joined an open item
	autoReply string
}

// receive spools, parses and files one letter. The raw letter is made
// durable while the store works; both must finish before the 250.
func (s *Server) receive(env envelope, r io.Reader) (received, error) {
	raw, err := s.spool.write(r, env.from)
	if err != nil {
		return received{}, err
	}
	l, err := s.parser.Parse(raw.reader(), s.spool.attachDir(raw.sum))
	if err != nil {
		s.spool.discard(raw)
		return received{}, fmt.Errorf("parse letter %s: %w", raw.sum, err)
	}
	synced := make(chan error, 1)
	go func() { synced <- s.spool.commit(raw) }()

	ctx, cancel := context.WithTimeout(s.base, s.cfg.StoreTimeout)
	defer cancel()
	res, err := s.file(ctx, env, l, raw)
	return res, errors.Join(err, <-synced)
}

// messageID is the letter's Message-ID, or one derived from its bytes
// when it has none, so a retried delivery still dedupes.
func (s *Server) messageID(l *Letter, raw rawLetter) string {
	if l.MessageID != "" {
		return l.MessageID
	}
	return s.syntheticID(raw)
}

func (s *Server) syntheticID(raw rawLetter) string {
	return "sha256-" + raw.sum[:32] + "@" + s.cfg.Domains[0]
}

// file stores the letter: as a message of the open item it replies to, or
// as a new item, deciding the auto-reply on the way.
func (s *Server) file(ctx context.Context, env envelope, l *Letter, raw rawLetter) (received, error) {
	id := s.messageID(l, raw)
	sender := senderAddress(l, env)
	dup, ok, err := s.duplicateReply(ctx, l, id, sender)
	if err != nil || ok {
		return received{item: dup, messageID: id}, err
	}
	if dup.ID != 0 { // the id is another sender's
		s.log.Warn("message id taken by another sender", "message_id", id, "item_id", dup.ID)
		id = s.syntheticID(raw)
	}
	open, parent, err := s.thread(ctx, l)
	if err != nil {
		return received{}, fmt.Errorf("letter %s: thread: %w", id, err)
	}
	unlock := s.lockSender(sender.Norm())
	defer unlock()
	contact, err := s.contact(ctx, sender, open.ID != 0)
	if err != nil {
		return received{}, fmt.Errorf("letter %s: contact: %w", id, err)
	}
	f := &filing{env: env, l: l, raw: raw, id: id, contact: contact, sender: sender}
	s.decideReply(ctx, f)
	if open.ID != 0 {
		return s.joinThread(ctx, f, open)
	}
	return s.newItem(ctx, f, parent)
}

// duplicateReply finds the item of a reply delivered before. A repeated
// new letter needs no look-up: CreateItem and AddMessage dedupe it. A
// reply was filed as a message of an older item, which its thread may no
// longer lead to (the item closed since), so it is looked up by its own
// Message-ID. ok is false with a non-zero item when that message came from
// another sender: the id is taken and this letter needs another.
func (s *Server) duplicateReply(ctx context.Context, l *Letter, id string, sender Address) (it store.Item, ok bool, err error) {
	if len(l.ThreadIDs()) == 0 {
		return store.Item{}, false, nil
	}
	it, err = s.opts.Store.ItemByMessageExternalID(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Item{}, false, nil
	case err != nil:
		return store.Item{}, false, fmt.Errorf("letter %s: look up: %w", id, err)
	}
	ms, err := s.opts.Store.Messages(ctx, it.ID)
	if err != nil {
		return store.Item{}, false, fmt.Errorf("letter %s: look up: %w", id, err)
	}
	for _, m := range ms {
		if m.ExternalID == id {
			same := strings.Contains(strings.ToLower(m.From), sender.Norm())
			return it, same && sender.Norm() != "", nil
		}
	}
	return it, true, nil
}

// filing is one letter on its way into the store.
type filing struct {
	env     envelope
	l       *Letter
	raw     rawLetter
	id      string
	contact store.Contact
	sender  Address
	reply   *Outgoing // the auto-reply, when one is due
	closes  bool      // the queue's policy: the auto-reply answers it

	replySubject, replyText string // the auto-reply as written

}

// senderAddress is the letter's From, or the envelope sender when From is
// unreadable.
func senderAddress(l *Letter, env envelope) Address {
	if strings.Contains(l.From.Addr, "@") {
		return l.From
	}
	return Address{Addr: env.from}
}

// thread finds the open item a reply belongs to, or else the closed item
// it follows up (the new item's parent). Both are zero for a new letter.
func (s *Server) thread(ctx context.Context, l *Letter) (open, parent store.Item, err error) {
	ids := l.ThreadIDs()
	if len(ids) > maxThreadLookups {
		ids = ids[:maxThreadLookups]
	}
	for _, ref := range ids {
		it, err := s.opts.Store.ItemByMessageExternalID(ctx, ref)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return store.Item{}, store.Item{}, err
		}
		if it.State != acd.StateClosed {
			return it, store.Item{}, nil
		}
		if parent.ID == 0 {
			parent = it
		}
	}
	return store.Item{}, parent, nil
}

// lockSender serialises letters from one address, so two letters arriving
// together get one auto-reply between them. Letters without an address
// need no lock: they get no contact and no auto-reply.
func (s *Server) lockSender(addr string) func() {
	if addr == "" {
		return func() {}
	}
	return s.senders.lock(addr)
}

// contact returns the sender's contact. A reply's contact is made when
// missing; a new letter's is only looked up (zero when new), since
// FileItem makes it in the letter's own commit.
func (s *Server) contact(ctx context.Context, a Address, create bool) (store.Contact, error) {
	if !strings.Contains(a.Addr, "@") {
		return store.Contact{}, nil
	}
	id := store.Identity{Kind: "email", Value: a.Norm()}
	if create {
		return s.opts.Store.ResolveContact(ctx, id, a.Name)
	}
	c, err := s.opts.Store.FindContact(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Contact{}, nil
	}
	return c, err
}

// joinThread adds the letter to its open item.
func (s *Server) joinThread(ctx context.Context, f *filing, it store.Item) (received, error) {
	msg := s.message(f, it.ID)
	_, created, err := s.opts.Store.AddMessage(ctx, msg)
	if err != nil {
		return received{}, fmt.Errorf("letter %s: add to item %d: %w", f.id, it.ID, err)
	}
	res := received{item: it, messageID: f.id, threaded: true}
	if !created {
		return res, nil
	}
	data, _ := json.Marshal(map[string]string{"message_id": f.id})
	ev := store.Event{ItemID: it.ID, Type: EventMessage, Data: data}
	if _, err := s.opts.Store.AppendEvent(ctx, ev); err != nil {
		return received{}, fmt.Errorf("letter %s: event on item %d: %w", f.id, it.ID, err)
	}
	if f.l.Report != nil && f.l.Report.Failed() {
		s.markBounced(ctx, f.l.Report, it.ID)
	}
	f.closes = false // the item is the router's now; only a helper closes it
	if f.reply != nil {
		s.markReplied(ctx, f.sender, it.ID)
		res.autoReply = s.sendReply(ctx, f, it)
	}
	return res, nil
}

// newItem makes the letter an item through the Intake: the sender's
// contact, the item, the letter and its auto-reply with the auto-reply's
// place in a stored outbox are one commit. The auto-reply is queued for
// sending after it.
func (s *Server) newItem(ctx context.Context, f *filing, parent store.Item) (received, error) {
	filed, err := s.submit(ctx, f, parent)
	if err != nil {
		return received{}, err
	}
	stored := filed.Item
	res := received{item: stored, messageID: f.id, created: filed.Created}
	if !filed.Created {
		// Stored before; a letter filed by an older release may lack its
		// message, which AddMessage adds or finds.
		_, _, err := s.opts.Store.AddMessage(ctx, s.message(f, stored.ID))
		return res, wrapMsgErr(f, stored, err)
	}
	if f.l.Report != nil && f.l.Report.Failed() {
		s.markBounced(ctx, f.l.Report, stored.ID)
	}
	res.autoReply = s.queueReply(ctx, f, filed)
	return res, nil
}

// arrival is the letter f as one store.Arrival.
func (s *Server) arrival(f *filing, parent store.Item) store.Arrival {
	it := store.Item{
		Channel:    acd.Email,
		ExternalID: f.id,
		Queue:      f.env.queue,
		State:      acd.StateNew,
		Subject:    f.l.Subject,
		ContactID:  f.contact.ID,
		ParentID:   parent.ID,
		Data:       s.itemData(f),
	}
	if f.closes {
		it.State, it.Outcome = acd.StateClosed, acd.OutcomeAutoReplied
		it.ClosedAt = s.opts.Now()
	}
	a := store.Arrival{Item: it, First: store.Event{Type: EventReceived, Data: it.Data}}
	if strings.Contains(f.sender.Addr, "@") {
		a.Contact, a.ContactName = store.Identity{Kind: "email", Value: f.sender.Norm()}, f.sender.Name
	}
	// The auto-reply follows the letter, so the thread reads in order.
	a.Messages = []store.Message{s.message(f, 0)}
	if f.reply != nil {
		a.Messages = append(a.Messages, s.replyMessage(f, *f.reply))
		a.AutoReplied = f.sender.Norm()
		if s.opts.Outbox.durable() {
			a.Out = []store.OutLetter{s.opts.Outbox.hold(outLetter(*f.reply))}
		}
	}
	return a
}

// queueReply hands a new item's auto-reply to the outbox: the stored
// outbox entry when the outbox keeps its queue in the store, else the
// letter itself. It returns the auto-reply's Message-ID, or "" when none
// went out.
func (s *Server) queueReply(ctx context.Context, f *filing, filed store.Filed) string {
	switch {
	case f.reply == nil:
		return ""
	case len(filed.Out) > 0:
		s.opts.Outbox.queueStored(filed.Out[0])
		return f.reply.MessageID
	}
	reply := *f.reply
	reply.ItemID = filed.Item.ID
	if err := s.opts.Outbox.EnqueueContext(ctx, reply); err != nil {
		s.log.Warn("auto-reply not queued", "item_id", reply.ItemID, "message_id", reply.MessageID, "err", err)
		return ""
	}
	return reply.MessageID
}

func wrapMsgErr(f *filing, it store.Item, err error) error {
	if err != nil {
		return fmt.Errorf("letter %s: message of item %d: %w", f.id, it.ID, err)
	}
	return nil
}

// submit hands the letter to the Intake. A Message-ID already held by
// another sender's letter (a forged or careless one) must not swallow this
// letter as a duplicate: it is filed again under the id of its own bytes.
func (s *Server) submit(ctx context.Context, f *filing, parent store.Item) (store.Filed, error) {
	filed, err := s.opts.Intake.File(ctx, s.arrival(f, parent))
	if err == nil && !filed.Created && filed.Item.ContactID != filed.Contact.ID && f.id != s.syntheticID(f.raw) {
		s.log.Warn("message id taken by another sender", "message_id", f.id, "item_id", filed.Item.ID)
		f.id = s.syntheticID(f.raw)
		filed, err = s.opts.Intake.File(ctx, s.arrival(f, parent))
	}
	if err != nil {
		return store.Filed{}, fmt.Errorf("letter %s: submit: %w", f.id, err)
	}
	return filed, nil
}

// itemJSON is an email item's data; a struct, not a map, so that a
// letter's JSON is written without sorting keys or boxing values.
type itemJSON struct {
	From      string `json:"from"`
	MessageID string `json:"message_id"`
	AutoReply string `json:"auto_reply,omitempty"`
	Broken    bool   `json:"broken,omitempty"`
}

func (s *Server) itemData(f *filing) json.RawMessage {
	d := itemJSON{From: f.sender.Norm(), MessageID: f.id, Broken: f.l.Broken}
	if f.reply != nil {
		d.AutoReply = f.reply.MessageID
	}
	b, _ := json.Marshal(d)
	return b
}

// message is the letter as a store.Message of item itemID.
func (s *Server) message(f *filing, itemID int64) store.Message {
	l := f.l
	return store.Message{
		ItemID:     itemID,
		Direction:  "in",
		ExternalID: f.id,
		From:       f.sender.String(),
		To:         strings.Join(f.env.rcpts, ", "),
		Subject:    l.Subject,
		Text:       l.Text,
		HTML:       l.HTML,
		Headers:    headersJSON(l, f.raw),
	}
}

// headersJSON keeps what the console and later stages need about a letter
// beyond its text: threading and RFC 3834 headers, the raw file and the
// attachments. Empty fields are left out.
func headersJSON(l *Letter, raw rawLetter) json.RawMessage {
	h := letterHeaders{Raw: raw.ref, SHA256: raw.sum, MessageID: l.MessageID, AutoSubmitted: l.AutoSubmitted,
		Precedence: l.Precedence, ListID: l.ListID, ReturnPath: l.ReturnPath, ContentLanguage: l.ContentLanguage,
		InReplyTo: l.InReplyTo, References: l.References, Attachments: l.Attachments, Report: l.Report,
		Broken: l.Broken, Problems: l.Problems}
	if !l.Date.IsZero() {
		h.Date = l.Date.UTC().Format(time.RFC3339)
	}
	if len(l.ReplyTo) > 0 {
		h.ReplyTo = l.ReplyTo[0].String()
	}
	b, _ := json.Marshal(h)
	return b
}

// letterHeaders is what headersJSON writes.
type letterHeaders struct {
	Raw             RawRef          `json:"raw"`
	SHA256          string          `json:"sha256"`
	MessageID       string          `json:"message_id,omitempty"`
	AutoSubmitted   string          `json:"auto_submitted,omitempty"`
	Precedence      string          `json:"precedence,omitempty"`
	ListID          string          `json:"list_id,omitempty"`
	ReturnPath      string          `json:"return_path,omitempty"`
	ContentLanguage string          `json:"content_language,omitempty"`
	Date            string          `json:"date,omitempty"`
	ReplyTo         string          `json:"reply_to,omitempty"`
	InReplyTo       []string        `json:"in_reply_to,omitempty"`
	References      []string        `json:"references,omitempty"`
	Attachments     []Attachment    `json:"attachments,omitempty"`
	Report          *DeliveryReport `json:"report,omitempty"`
	Broken          bool            `json:"broken,omitempty"`
	Problems        []string        `json:"problems,omitempty"`
}
