package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	gomail "github.com/emersion/go-message/mail"

	"github.com/morozhq/moroz/store"
)

// ReplyStore is what a Replier needs of the store; every store.Store is
// one.
type ReplyStore interface {
	Messages(ctx context.Context, itemID int64) ([]store.Message, error)
	AddMessage(ctx context.Context, m store.Message) (store.Message, bool, error)
}

// Replier sends helpers' answers to letters: in the letter's thread, from
// Moroz's address, through the Outbox. It is safe for concurrent use.
type Replier struct {
	Store  ReplyStore
	Outbox *Outbox
	From   Address // the address answers come from, on Domain
	Domain string  // names the answers' Message-IDs
	Now    func() time.Time
}

// Answer is a helper's reply to an item's letter.
type Answer struct {
	ItemID     int64
	HelperID   int64
	TemplateID int64  // the template it was written from, 0 when none
	Subject    string // empty means "Re: " and the letter's subject
	Text       string
}

// ErrNoLetter means the item holds no inbound letter to answer.
var ErrNoLetter = errors.New("no letter to answer")

// Send answers the item's latest inbound letter: it records the answer as
// an outbound message of the item and queues it. Once Send returns nil the
// answer is stored; delivery, with its retries, is the Outbox's.
func (r *Replier) Send(ctx context.Context, a Answer) (store.Message, error) {
	if strings.TrimSpace(a.Text) == "" {
		return store.Message{}, fmt.Errorf("answer item %d: empty text", a.ItemID)
	}
	ms, err := r.Store.Messages(ctx, a.ItemID)
	if err != nil {
		return store.Message{}, fmt.Errorf("answer item %d: %w", a.ItemID, err)
	}
	letter, ok := lastInbound(ms)
	if !ok {
		return store.Message{}, fmt.Errorf("answer item %d: %w", a.ItemID, ErrNoLetter)
	}
	out, msg, err := r.compose(a, letter)
	if err != nil {
		return store.Message{}, fmt.Errorf("answer item %d: %w", a.ItemID, err)
	}
	stored, _, err := r.Store.AddMessage(ctx, msg)
	if err != nil {
		return store.Message{}, fmt.Errorf("answer item %d: store: %w", a.ItemID, err)
	}
	if err := r.Outbox.EnqueueContext(ctx, out); err != nil {
		return stored, fmt.Errorf("answer item %d: %w", a.ItemID, err)
	}
	return stored, nil
}

func lastInbound(ms []store.Message) (store.Message, bool) {
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Direction == "in" {
			return ms[i], true
		}
	}
	return store.Message{}, false
}

// compose builds the answer to letter and its store record.
func (r *Replier) compose(a Answer, letter store.Message) (Outgoing, store.Message, error) {
	var h struct {
		References []string `json:"references"`
		ReplyTo    string   `json:"reply_to"`
	}
	if len(letter.Headers) > 0 {
		if err := json.Unmarshal(letter.Headers, &h); err != nil {
			return Outgoing{}, store.Message{}, fmt.Errorf("headers of message %d: %w", letter.ID, err)
		}
	}
	to, err := replyAddress(h.ReplyTo, letter.From)
	if err != nil {
		return Outgoing{}, store.Message{}, err
	}
	subject := a.Subject
	if subject == "" {
		subject = reSubject(letter.Subject)
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	out, err := Compose(Reply{From: r.From, To: to, Subject: subject, Text: a.Text,
		InReplyTo: letter.ExternalID, References: h.References, Date: now()}, r.Domain)
	if err != nil {
		return Outgoing{}, store.Message{}, err
	}
	out.ItemID = a.ItemID
	headers, _ := json.Marshal(map[string]any{"in_reply_to": []string{letter.ExternalID}})
	msg := store.Message{
		ItemID: a.ItemID, Direction: "out", ExternalID: out.MessageID,
		From: r.From.String(), To: to.String(), Subject: subject, Text: a.Text,
		Headers: headers, HelperID: a.HelperID, TemplateID: a.TemplateID,
	}
	return out, msg, nil
}

// replyAddress is where an answer goes: the letter's Reply-To when it had
// one, else its From (RFC 5322 §3.6.2).
func replyAddress(replyTo, from string) (Address, error) {
	for _, s := range []string{replyTo, from} {
		if s == "" {
			continue
		}
		if a, err := gomail.ParseAddress(s); err == nil {
			return Address{Name: a.Name, Addr: a.Address}, nil
		}
		if i := strings.LastIndexByte(s, '<'); i >= 0 && strings.HasSuffix(s, ">") {
			return Address{Name: strings.TrimSpace(s[:i]), Addr: s[i+1 : len(s)-1]}, nil
		}
		if strings.Contains(s, "@") {
			return Address{Addr: s}, nil
		}
	}
	return Address{}, fmt.Errorf("no address to answer: from %q", from)
}

// reSubject prefixes "Re: " once.
func reSubject(s string) string {
	if len(s) >= 3 && strings.EqualFold(s[:3], "re:") {
		return s
	}
	return "Re: " + s
}

// StoredSender delivers replies that the work service has already stored
// (it implements work.Sender): each answers the item's latest inbound
// letter in its thread and goes to the Outbox. The stored reply keeps no
// Message-ID of its own; an answer to it still threads, through the
// References that carry the original letter's id.
type StoredSender struct {
	*Replier
}

// Send composes m as the answer to it's latest letter and queues it.
func (s StoredSender) Send(ctx context.Context, it store.Item, m store.Message) error {
	ms, err := s.Store.Messages(ctx, it.ID)
	if err != nil {
		return fmt.Errorf("answer item %d: %w", it.ID, err)
	}
	letter, ok := lastInbound(ms)
	if !ok {
		return fmt.Errorf("answer item %d: %w", it.ID, ErrNoLetter)
	}
	out, _, err := s.compose(Answer{ItemID: it.ID, HelperID: m.HelperID, TemplateID: m.TemplateID,
		Subject: m.Subject, Text: m.Text}, letter)
	if err != nil {
		return fmt.Errorf("answer item %d: %w", it.ID, err)
	}
	if err := s.Outbox.EnqueueContext(ctx, out); err != nil {
		return fmt.Errorf("answer item %d: %w", it.ID, err)
	}
	return nil
}
