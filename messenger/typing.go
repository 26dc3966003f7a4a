package messenger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

// Typing indicator limits.
const (
	// typingEvery is how often a typing indicator is passed on, per chat,
	// each way: the widget shows one for a few seconds, and Telegram's
	// "typing" action lasts five.
	typingEvery = 3 * time.Second
	maxTypists  = 10000 // chats whose last indicator time is remembered
)

// ErrNotChat is a typing indicator for an item that is not a live chat
// (a letter, a call).
var ErrNotChat = errors.New("not a chat or Telegram item")

// typists throttles typing indicators by a key (an item, a visitor) and
// holds where visitors' indicators go.
type typists struct {
	mu   sync.Mutex
	last map[string]time.Time         // guarded by mu
	sink func(helperID, itemID int64) // guarded by mu
}

// allow reports whether an indicator of key may go now, and notes it.
func (ts *typists) allow(key string, now time.Time) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if now.Sub(ts.last[key]) < typingEvery {
		return false
	}
	if len(ts.last) >= maxTypists {
		clear(ts.last) // an entry is only worth keeping for typingEvery
	}
	ts.last[key] = now
	return true
}

// OnVisitorTyping makes f hear that a visitor is typing in the chat of an
// item a helper holds, at most every few seconds per chat.
// f must not block (the console queues a message to the helper's
// sockets). Call it while wiring, before visitors connect.
func (m *Messenger) OnVisitorTyping(f func(helperID, itemID int64)) {
	m.typing.mu.Lock()
	defer m.typing.mu.Unlock()
	m.typing.sink = f
}

// HelperTyping tells the visitor of an item that its helper is typing: the
// chat widget shows it, a Telegram chat gets the "typing" chat action. It
// checks that helperID holds the item, passes on at most one indicator
// every few seconds per item, and does not wait for Telegram. It fails
// with ErrNotChat for items of other channels.
func (m *Messenger) HelperTyping(ctx context.Context, helperID, itemID int64) error {
	it, err := m.st.Item(ctx, itemID)
	if err != nil {
		return fmt.Errorf("typing in item %d: %w", itemID, err)
	}
	if it.Channel != acd.Chat && it.Channel != acd.Telegram {
		return fmt.Errorf("typing in item %d: %w", itemID, ErrNotChat)
	}
	if info, ok := m.work.Router().Item(itemID); !ok || info.HelperID != helperID {
		return fmt.Errorf("typing in item %d: not held by helper %d", itemID, helperID)
	}
	if !m.typing.allow(fmt.Sprint("item:", itemID), m.now()) {
		return nil
	}
	if it.Channel == acd.Chat {
		return m.chat.helperTyping(it)
	}
	return m.telegramTyping(it)
}

func (m *Messenger) telegramTyping(it store.Item) error {
	if m.tg == nil {
		return fmt.Errorf("typing in item %d: telegram is off", it.ID)
	}
	chat, err := telegramChat(it)
	if err != nil {
		return err
	}
	m.goOwned(func(ctx context.Context) {
		if err := m.tg.api.SendChatAction(ctx, chat, "typing"); err != nil && ctx.Err() == nil {
			m.log.Debug("telegram typing action not sent", "item_id", it.ID, "err", err)
		}
	})
	return nil
}

// helperTyping shows the helper's typing indicator on the visitor's
// sockets.
func (h *chatHub) helperTyping(it store.Item) error {
	vid, err := chatVisitor(it)
	if err != nil {
		return err
	}
	h.push(vid, frame{Type: "typing", From: "helper"})
	return nil
}

// visitorTyping passes a visitor's typing indicator to the helper who
// holds their chat item, if one does.
func (h *chatHub) visitorTyping(c *chatConn) {
	h.mu.Lock()
	id := h.items[c.visitor]
	h.mu.Unlock()
	if id == 0 {
		return // with the bot, or no chat yet
	}
	info, ok := h.m.work.Router().Item(id)
	if !ok {
		return
	}
	ts := &h.m.typing
	ts.mu.Lock()
	sink := ts.sink
	ts.mu.Unlock()
	if sink == nil || info.HelperID == 0 || !ts.allow("visitor:"+c.visitor, h.m.now()) {
		return
	}
	sink(info.HelperID, id)
}

// typingLimiter bounds the typing frames one socket may send before they
// are ignored: the widget sends one every few seconds while its visitor
// types.
func typingLimiter() *rate.Limiter { return rate.NewLimiter(1, 3) }
