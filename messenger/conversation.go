package messenger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/work"
)

// Conversation limits.
const (
	maxConversations = 20000          // bot states cached in memory
	conversationTTL  = 24 * time.Hour // a cached bot state idle longer is dropped (it stays stored)
	botName          = "bot"          // From of the bot's messages
	botStateHeader   = "bot"          // the Headers key of the bot's state after a visitor's message
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

// conversation is one visitor's talk with the bot; mu serialises the
// visitor's messages so that one chat never makes two items. The state is
// a cache of what the item's last visitor message stores.
type conversation struct {
	mu     sync.Mutex
	itemID int64     // the kept item state belongs to, 0 before it is known; guarded by mu
	state  BotState  // guarded by mu
	last   time.Time // guarded by the conversations' mu
}

// conversations are the cached bot conversations by visitor key.
type conversations struct {
	mu   sync.Mutex
	byID map[string]*conversation // guarded by mu
}

func newConversations() *conversations {
	return &conversations{byID: map[string]*conversation{}}
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

func (cs *conversations) pruneLocked(now time.Time) {
	for k, c := range cs.byID {
		if now.Sub(c.last) > conversationTTL {
			delete(cs.byID, k)
		}
	}
}

// outcome is what became of an inbound message.
type outcome struct {
	Item      store.Item // the item it joined, kept or handed over
	Queued    bool       // Item is with the helpers' queue, not the bot
	Replies   []string   // the bot's answers, to send back
	Offline   bool       // a person was asked for, but nobody is on duty
	Duplicate bool       // the message was received before
}

// receive handles one message of a visitor: it joins the chat's item
// with the helpers, or goes to the bot on the chat's kept item (made by
// the first message), which may hand it to the helpers' queue. A nil
// error means the message and the bot's answers are stored.
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
	if open.ID != 0 && open.State != acd.StateNew {
		m.convs.drop(v.key())
		return m.join(ctx, open, c, in)
	}
	return m.talk(ctx, v, c, conv, open, in)
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

// join adds the message to the chat's item with the helpers.
func (m *Messenger) join(ctx context.Context, it store.Item, c store.Contact, in inbound) (outcome, error) {
	msg := store.Message{ItemID: it.ID, Direction: "in", ExternalID: in.ExternalID, From: c.Name,
		Text: in.Text, Headers: in.Headers, CreatedAt: in.At}
	_, created, err := m.st.AddMessage(ctx, msg)
	if err != nil {
		return outcome{}, fmt.Errorf("item %d: add message: %w", it.ID, err)
	}
	return outcome{Item: it, Queued: true, Duplicate: !created}, nil
}

// talk lets the bot answer on the kept item (keeping one for a first
// message), stores the message and the answers, and hands the chat over
// when the bot says.
func (m *Messenger) talk(ctx context.Context, v visitor, c store.Contact, conv *conversation, it store.Item, in inbound) (outcome, error) {
	st, err := m.botState(ctx, conv, it.ID)
	if err != nil {
		return outcome{}, err
	}
	if st.Lang == "" && v.lang != "" {
		st.Lang = v.lang
	}
	queue := work.DefaultQueueFor(v.ch)
	env := m.env(queue)
	turn := m.bot.Respond(&st, in.Text, env)
	out := outcome{Replies: turn.Replies}
	if turn.Handoff && v.ch == acd.Chat && turn.Live && !env.OnDuty {
		st.HandedOff = false // the visitor may still ask again, or write a letter
		st.AskedOffDuty = true
		out.Offline, turn.Handoff = true, false
	}
	if it.ID == 0 {
		if it, err = m.keep(ctx, v, c, queue, in); err != nil {
			return outcome{}, err
		}
	}
	created, err := m.storeTurn(ctx, v, it, c, in, st, turn.Replies)
	if err != nil || !created {
		return outcome{Duplicate: !created}, err
	}
	conv.itemID, conv.state = it.ID, st
	out.Item = it
	if err := m.collected(ctx, c, turn.Fields); err != nil {
		m.log.Warn("collected fields not written to the contact", "peer", v.key(), "item_id", it.ID, "err", err)
	}
	if !turn.Handoff {
		return out, nil
	}
	if out.Item, err = m.handoff(ctx, v, it, st); err != nil {
		return outcome{}, err
	}
	m.convs.drop(v.key())
	out.Queued = true
	return out, nil
}

// botState returns the bot's state on the kept item: the cached one, or
// the state stored with the item's last visitor message (after a restart,
// or on another node). A chat with no item yet starts afresh.
func (m *Messenger) botState(ctx context.Context, conv *conversation, itemID int64) (BotState, error) {
	if itemID == 0 {
		return BotState{}, nil
	}
	if conv.itemID == itemID {
		return conv.state.clone(), nil
	}
	msgs, err := m.st.Messages(ctx, itemID)
	if err != nil {
		return BotState{}, fmt.Errorf("item %d: bot state: %w", itemID, err)
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		if st, ok := storedBotState(msgs[i]); ok {
			return st, nil
		}
	}
	return BotState{}, nil
}

func storedBotState(msg store.Message) (BotState, bool) {
	if msg.Direction != "in" || len(msg.Headers) == 0 {
		return BotState{}, false
	}
	var h map[string]json.RawMessage
	if json.Unmarshal(msg.Headers, &h) != nil || h[botStateHeader] == nil {
		return BotState{}, false
	}
	var st BotState
	if json.Unmarshal(h[botStateHeader], &st) != nil {
		return BotState{}, false
	}
	return st, true
}

func (s BotState) clone() BotState {
	if s.Fields != nil {
		f := make(map[string]string, len(s.Fields))
		for k, v := range s.Fields {
			f[k] = v
		}
		s.Fields = f
	}
	return s
}

// keep stores the item of a chat's first message, for the bot to talk on
// until it hands the chat over.
func (m *Messenger) keep(ctx context.Context, v visitor, c store.Contact, queue string, in inbound) (store.Item, error) {
	ext := in.ExternalID
	if ext == "" {
		ext = v.key() + ":" + randomID()
	}
	data, _ := json.Marshal(map[string]any{"peer": v.id.Value, "lang": v.lang})
	it, _, err := m.work.Keep(ctx, store.Item{Channel: v.ch, ExternalID: ext, Queue: queue,
		ContactID: c.ID, Subject: subjectOf(in.Text), Data: data}, store.Event{})
	if err != nil {
		return store.Item{}, fmt.Errorf("keep the chat of %s: %w", v.key(), err)
	}
	return it, nil
}

// storeTurn stores the visitor's message, with the bot's state after it,
// the bot's replies and, on Telegram, their places in the outbox, in one
// commit; the replies are then handed to the Telegram senders. created is
// false when the message was stored before (a redelivery that raced this
// one): nothing is stored or queued twice, since the replies' ids derive
// from the message's.
func (m *Messenger) storeTurn(ctx context.Context, v visitor, it store.Item, c store.Contact, in inbound, st BotState, replies []string) (bool, error) {
	head, err := withBotState(in.Headers, st)
	if err != nil {
		return false, fmt.Errorf("item %d: %w", it.ID, err)
	}
	msgs := []store.Message{{ItemID: it.ID, Direction: "in", ExternalID: in.ExternalID, From: c.Name,
		Text: in.Text, Headers: head, CreatedAt: in.At}}
	key := in.ExternalID
	if key == "" {
		key = randomID()
	}
	for i, r := range replies {
		reply := store.Message{ItemID: it.ID, Direction: "out", From: botName, Text: r, CreatedAt: m.now()}
		if in.ExternalID != "" {
			reply.ExternalID = fmt.Sprintf("%s:bot:%d", in.ExternalID, i)
		}
		msgs = append(msgs, reply)
	}
	var out []store.OutLetter
	if v.ch == acd.Telegram && m.tg != nil {
		chat, err := strconv.ParseInt(v.id.Value, 10, 64)
		if err != nil {
			return false, fmt.Errorf("item %d: telegram chat %q: %w", it.ID, v.id.Value, err)
		}
		if out, err = outRows(it.ID, chat, key, replies); err != nil {
			return false, err
		}
	}
	filed, err := m.st.FileLetter(ctx, msgs, out)
	if err != nil {
		return false, fmt.Errorf("item %d: store the bot's turn: %w", it.ID, err)
	}
	if !filed.Created[0] {
		return false, nil
	}
	if m.tg != nil {
		m.tg.queue(filed.Out)
	}
	return true, nil
}

// withBotState adds the bot's state to a message's headers.
func withBotState(headers json.RawMessage, st BotState) (json.RawMessage, error) {
	h := map[string]json.RawMessage{}
	if len(headers) > 0 {
		if err := json.Unmarshal(headers, &h); err != nil {
			return nil, fmt.Errorf("message headers: %w", err)
		}
	}
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("bot state: %w", err)
	}
	h[botStateHeader] = b
	return json.Marshal(h)
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

// handoff gives the kept item its subject and the bot's fields and routes
// it: the transcript is already stored on it.
func (m *Messenger) handoff(ctx context.Context, v visitor, it store.Item, st BotState) (store.Item, error) {
	subject := it.Subject
	if w := st.Fields["wish"]; w != "" {
		subject = subjectOf(w)
	}
	data, _ := json.Marshal(map[string]any{"peer": v.id.Value, "fields": st.Fields, "lang": st.Lang})
	id := it.ID
	it, err := m.st.UpdateItem(ctx, id, store.ItemUpdate{Subject: &subject, Data: data})
	if err != nil {
		return store.Item{}, fmt.Errorf("hand %s to the queue: item %d: %w", v.key(), id, err)
	}
	if err := m.work.Route(ctx, id, "bot handoff"); err != nil {
		return store.Item{}, fmt.Errorf("hand %s to the queue: %w", v.key(), err)
	}
	it.State = acd.StateQueued
	m.log.Info("chat handed to helpers", "item_id", it.ID, "peer", v.key(), "queue", it.Queue)
	return it, nil
}
