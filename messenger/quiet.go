package messenger

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

// maxQuietSweep is the longest pause between two sweeps for quiet chats.
const maxQuietSweep = time.Minute

// quietLoop closes, now and then until ctx ends, the chats only the bot
// has answered that have been quiet for cfg.BotQuiet.
func (m *Messenger) quietLoop(ctx context.Context) {
	t := time.NewTicker(min(m.cfg.BotQuiet/4, maxQuietSweep))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := m.closeQuiet(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("quiet bot chats not closed; trying again later", "err", err)
		}
	}
}

// closeQuiet closes every kept chat item (Telegram or the widget) whose
// last message is at least cfg.BotQuiet old, as auto-replied: the bot
// answered every message and nobody asked for a helper. A chat whose
// visitor asked for one while nobody was on duty is routed to the helpers
// instead. It returns how many it closed.
func (m *Messenger) closeQuiet(ctx context.Context) (int, error) {
	n := 0
	for after := int64(0); ; {
		items, err := m.st.ListItems(ctx, store.ItemFilter{State: acd.StateNew, AfterID: after, Limit: 1000})
		if err != nil {
			return n, fmt.Errorf("kept chats: %w", err)
		}
		for _, it := range items {
			if it.Channel != acd.Telegram && it.Channel != acd.Chat {
				continue
			}
			closed, err := m.closeIfQuiet(ctx, it)
			if err != nil {
				return n, err
			}
			if closed {
				n++
			}
		}
		if len(items) < 1000 {
			return n, nil
		}
		after = items[len(items)-1].ID
	}
}

// closeIfQuiet closes it when its last message is old enough. It holds
// the visitor's conversation, so that a message arriving meanwhile either
// lands before (and keeps the chat open) or after (and starts a new one).
func (m *Messenger) closeIfQuiet(ctx context.Context, it store.Item) (bool, error) {
	var d struct {
		Peer string `json:"peer"`
	}
	if json.Unmarshal(it.Data, &d) != nil || d.Peer == "" {
		return false, nil
	}
	key := visitor{ch: it.Channel, id: store.Identity{Value: d.Peer}}.key()
	conv := m.convs.get(key, m.now())
	conv.mu.Lock()
	defer conv.mu.Unlock()
	msgs, err := m.st.Messages(ctx, it.ID)
	if err != nil {
		return false, fmt.Errorf("kept chat %d: %w", it.ID, err)
	}
	// A visitor's message carries the sender's clock (Telegram's date),
	// which may run ahead; the bot's answer to it carries ours.
	now, last := m.now(), it.CreatedAt
	for _, msg := range msgs {
		if msg.CreatedAt.After(last) && !msg.CreatedAt.After(now) {
			last = msg.CreatedAt
		}
	}
	quiet := now.Sub(last)
	if quiet < m.cfg.BotQuiet {
		return false, nil
	}
	if askedOffDuty(msgs) {
		// Nobody was there when the visitor asked for a person: the chat
		// waits for a helper, who answers when the visitor comes back.
		if err := m.work.Route(ctx, it.ID, "asked for a person while nobody was on duty"); err != nil {
			return false, fmt.Errorf("kept chat %d: %w", it.ID, err)
		}
		m.convs.drop(key)
		if it.Channel == acd.Chat { // a visitor still on the page sees their place
			m.chat.setItem(d.Peer, it.ID)
			m.chat.push(d.Peer, m.chat.position(it.ID))
		}
		m.log.Info("quiet chat that asked for a person handed to helpers", "item_id", it.ID, "peer", key)
		return false, nil
	}
	reason := fmt.Sprintf("answered by the bot; quiet for %s", quiet.Round(time.Minute))
	closed, err := m.work.CloseKept(ctx, it.ID, acd.OutcomeAutoReplied, reason)
	if err != nil || !closed {
		return false, err
	}
	if conv.itemID == it.ID {
		conv.itemID, conv.state = 0, BotState{}
	}
	m.log.Info("quiet bot chat closed", "item_id", it.ID, "peer", key)
	return true, nil
}

// askedOffDuty reports whether the bot's state after the chat's last
// visitor message says they asked for a person while nobody was on duty.
func askedOffDuty(msgs []store.Message) bool {
	for i := len(msgs) - 1; i >= 0; i-- {
		if st, ok := storedBotState(msgs[i]); ok {
			return st.AskedOffDuty
		}
	}
	return false
}
