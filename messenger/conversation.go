package messenger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/work"
)

// Conversation limits.
const (
	maxConversations = 20000              // bot conversations kept in memory
	conversationTTL  = 24 * time.Hour     // a bot conversation idle longer is forgotten
	maxTranscript    = 200                // lines of one bot conversation kept
	botName          = "bot"              // From of the bot's messages
	seenTTL          = 7 * 24 * time.Hour // how long a bot-phase message id is remembered
)

// visitor is who writes on a chat channel.
type visitor struct {
	ch   acd.Channel
	id   store.Identity
	name string
	lang string // a hint from the channel (Telegram's language_code)
}

func (v visitor) key() string { return string(v.ch) + ":" + v.id.Value }

// inbound is one message a visitor sent.
type inbound struct {
	ExternalID string // unique per channel, or empty
	Text       string
	Headers    json.RawMessage // attachments
	At         time.Time
}

// line is one line of a bot conversation, kept until it is handed off.
type line struct {
	In   bool
	Text string
	Ext  string
	Head json.RawMessage
	At   time.Time
}

// conversation is one visitor's talk with the bot; mu serialises the
// visitor's messages so that one chat never makes two items.
type conversation struct {
	mu         sync.Mutex
	state      BotState  // guarded by mu
	transcript []line    // guarded by mu
	last       time.Time // guarded by the conversations' mu
}

// conversations are the bot conversations by visitor key, and the ids of
// messages they have seen.
type conversations struct {
	mu   sync.Mutex
	byID map[string]*conversation // guarded by mu
	seen map[string]time.Time     // external ids of bot-phase messages; guarded by mu
}

func newConversations() *conversations {
	return &conversations{byID: map[string]*conversation{}, seen: map[string]time.Time{}}
}

// get returns the conversation of key, making it, and marks it used.
func (cs *conversations) get(key string, now time.Time) *conversation {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c := cs.byID[key]
	if c == nil {
		if len(cs.byID) >= maxConversations {
			cs.pruneLocked(now)
		}
		c = &conversation{}
		cs.byID[key] = c
	}
	c.last = now
	return c
}

func (cs *conversations) drop(key string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	delete(cs.byID, key)
}

// peek returns the conversation of key without making one.
func (cs *conversations) peek(key string) *conversation {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.byID[key]
}

// markSeen records ext and reports whether it was seen before.
func (cs *conversations) markSeen(ext string, now time.Time) bool {
	if ext == "" {
		return false
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if _, ok := cs.seen[ext]; ok {
		return true
	}
	if len(cs.seen) >= maxConversations*10 {
		cs.pruneLocked(now)
	}
	cs.seen[ext] = now
	return false
}

func (cs *conversations) pruneLocked(now time.Time) {
	for k, c := range cs.byID {
		if now.Sub(c.last) > conversationTTL {
			delete(cs.byID, k)
		}
	}
	for k, at := range cs.seen {
		if now.Sub(at) > seenTTL {
			delete(cs.seen, k)
		}
	}
}

// outcome is what became of an inbound message.
type outcome struct {
	Item      store.Item // the item it joined or started; ID 0 while with the bot
	Replies   []string   // the bot's answers, to send back
	Offline   bool       // a person was asked for, but nobody is on duty
	Duplicate bool       // the message was received before
}

// receive handles one message of a visitor: it joins the chat's open item,
// or goes to the bot, which may hand the conversation to the helpers'
// queue. A nil error means whatever reached an item is stored.
func (m *Messenger) receive(ctx context.Context, v visitor, in inbound) (outcome, error) {
	if in.ExternalID != "" {
		if _, err := m.st.ItemByMessageExternalID(ctx, in.ExternalID); err == nil {
			return outcome{Duplicate: true}, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return outcome{}, fmt.Errorf("receive %s: %w", in.ExternalID, err)
		}
	}
	conv := m.convs.get(v.key(), m.now())
	conv.mu.Lock()
	defer conv.mu.Unlock()
	c, err := m.st.ResolveContact(ctx, v.id, v.name)
	if err != nil {
		return outcome{}, fmt.Errorf("receive from %s: contact: %w", v.key(), err)
	}
	open, err := m.openItem(ctx, v.ch, c.ID)
	if err != nil {
		return outcome{}, err
	}
	if open.ID != 0 {
		m.convs.drop(v.key())
		return m.join(ctx, open, c, in)
	}
	if m.convs.markSeen(in.ExternalID, m.now()) {
		return outcome{Duplicate: true}, nil
	}
	return m.talk(ctx, v, c, conv, in)
}

// openItem returns the contact's open item on ch, or a zero item.
func (m *Messenger) openItem(ctx context.Context, ch acd.Channel, contactID int64) (store.Item, error) {
	items, err := m.st.ListItems(ctx, store.ItemFilter{Channel: ch, ContactID: contactID, Open: true, Limit: 1})
	if err != nil {
		return store.Item{}, fmt.Errorf("open %s item of contact %d: %w", ch, contactID, err)
	}
	if len(items) == 0 {
		return store.Item{}, nil
	}
	return items[0], nil
}

// join adds the message to the chat's open item.
func (m *Messenger) join(ctx context.Context, it store.Item, c store.Contact, in inbound) (outcome, error) {
	msg := store.Message{ItemID: it.ID, Direction: "in", ExternalID: in.ExternalID, From: c.Name,
		Text: in.Text, Headers: in.Headers, CreatedAt: in.At}
	_, created, err := m.st.AddMessage(ctx, msg)
	if err != nil {
		return outcome{}, fmt.Errorf("item %d: add message: %w", it.ID, err)
	}
	return outcome{Item: it, Duplicate: !created}, nil
}

// talk lets the bot answer and hands the conversation over when it says.
func (m *Messenger) talk(ctx context.Context, v visitor, c store.Contact, conv *conversation, in inbound) (outcome, error) {
	if conv.state.Lang == "" && v.lang != "" {
		conv.state.Lang = v.lang
	}
	queue := work.DefaultQueueFor(v.ch)
	env := m.env(queue)
	turn := m.bot.Respond(&conv.state, in.Text, env)
	conv.add(line{In: true, Text: in.Text, Ext: in.ExternalID, Head: in.Headers, At: in.At})
	for _, r := range turn.Replies {
		conv.add(line{Text: r, At: m.now()})
	}
	if err := m.collected(ctx, c, turn.Fields); err != nil {
		m.log.Warn("collected fields not written to the contact", "peer", v.key(), "err", err)
	}
	out := outcome{Replies: turn.Replies}
	if !turn.Handoff {
		return out, nil
	}
	if v.ch == acd.Chat && turn.Live && !env.OnDuty {
		conv.state.HandedOff = false // the visitor may still ask again, or write a letter
		out.Offline = true
		return out, nil
	}
	it, err := m.handoff(ctx, v, c, conv, queue)
	if err != nil {
		return outcome{}, err
	}
	m.convs.drop(v.key())
	out.Item = it
	return out, nil
}

func (conv *conversation) add(l line) {
	if len(conv.transcript) < maxTranscript {
		conv.transcript = append(conv.transcript, l)
	}
}

// env tells the bot whether the queue is open and anyone is on duty.
func (m *Messenger) env(queue string) Env {
	for _, q := range m.work.Queues() {
		if q.Name == queue {
			return Env{Open: q.Open, OnDuty: q.LoggedIn > 0}
		}
	}
	return Env{Open: true}
}

// collected writes the fields the bot collected to the contact.
func (m *Messenger) collected(ctx context.Context, c store.Contact, fields map[string]string) error {
	if len(fields) == 0 {
		return nil
	}
	if c.Fields == nil {
		c.Fields = map[string]string{}
	}
	for k, v := range fields {
		if k == "name" {
			c.Name = v
			continue
		}
		c.Fields[k] = v
	}
	return m.st.UpdateContact(ctx, c)
}

// handoff submits the conversation as an item of the chat's queue, with the
// bot's transcript as its messages.
func (m *Messenger) handoff(ctx context.Context, v visitor, c store.Contact, conv *conversation, queue string) (store.Item, error) {
	first := conv.transcript[0]
	ext := first.Ext
	if ext == "" {
		ext = v.key() + ":" + randomID()
	}
	subject := conv.state.Fields["wish"]
	if subject == "" {
		subject = firstVisitorText(conv.transcript)
	}
	data, _ := json.Marshal(map[string]any{"peer": v.id.Value, "fields": conv.state.Fields, "lang": conv.state.Lang})
	it, _, err := m.work.Submit(ctx, store.Item{Channel: v.ch, ExternalID: ext, Queue: queue,
		ContactID: c.ID, Subject: subjectOf(subject), Data: data}, store.Event{})
	if err != nil {
		return store.Item{}, fmt.Errorf("hand %s to the queue: %w", v.key(), err)
	}
	for _, l := range conv.transcript {
		msg := store.Message{ItemID: it.ID, Direction: "out", From: botName, Text: l.Text, CreatedAt: l.At}
		if l.In {
			msg.Direction, msg.From, msg.ExternalID, msg.Headers = "in", c.Name, l.Ext, l.Head
		}
		if _, _, err := m.st.AddMessage(ctx, msg); err != nil {
			return it, fmt.Errorf("item %d: transcript: %w", it.ID, err)
		}
	}
	m.log.Info("chat handed to helpers", "item_id", it.ID, "peer", v.key(), "queue", queue)
	return it, nil
}

func firstVisitorText(ls []line) string {
	for _, l := range ls {
		if l.In && l.Text != "" {
			return l.Text
		}
	}
	return ""
}
