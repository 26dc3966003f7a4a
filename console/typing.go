package console

import (
	"context"

	"github.com/morozhq/moroz/console/hub"
	"github.com/morozhq/moroz/store"
)

// msgTyping is a typing indicator of a chat (protocol.md, "Typing"): the
// helper's desk sends {"type": "typing", "item_id": N} while the helper
// writes a reply, and gets {"type": "typing", "data": {"item_id": N}}
// while the visitor of that chat writes.
const msgTyping = "typing"

// Typing carries a helper's typing indicator to the visitor of a chat or
// Telegram item (package messenger's Messenger). HelperTyping fails for an
// item the helper does not hold or that is not a chat; it must not wait
// for the visitor's network.
type Typing interface {
	HelperTyping(ctx context.Context, helperID, itemID int64) error
}

func init() {
	ops[msgTyping] = op{store.RoleHelper, (*Server).opTyping}
}

func (s *Server) opTyping(ctx context.Context, p Principal, r request) (any, error) {
	if s.opt.Typing == nil {
		return nil, &requestError{errUnavailable, "no chats on this server"}
	}
	if r.ItemID == 0 {
		return nil, bad("typing: item_id is required")
	}
	if _, err := s.held(ctx, p, r.ItemID); err != nil {
		return nil, err
	}
	if err := s.opt.Typing.HelperTyping(ctx, p.UserID, r.ItemID); err != nil {
		return nil, &requestError{errWrongState, err.Error()}
	}
	return nil, nil
}

// typingMsg is the data of a visitor's typing indicator.
type typingMsg struct {
	ItemID int64 `json:"item_id"`
}

// SendTyping tells every console the helper has open that the visitor of
// the item is typing, and returns how many it was queued for. It does not
// block and is safe for concurrent use (package messenger's
// OnVisitorTyping calls it).
func (s *Server) SendTyping(helperID, itemID int64) int {
	return s.hub.Publish(hub.Audience{Users: []int64{helperID}}, encode(envelope{Type: msgTyping, Data: typingMsg{ItemID: itemID}}))
}
