package work

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

// CloseKept closes an item kept with Keep that never went to the router
// (a chat the bot answered in full), with outcome and a closed event whose
// data gives the outcome and reason, in one commit. It reports false, and
// changes nothing, when the item is no longer kept (it was routed or
// closed meanwhile). A visitor who writes again starts a new item.
//
// The caller serialises CloseKept with Route for one item: the check of
// the state and the update are two steps.
func (s *Service) CloseKept(ctx context.Context, itemID int64, outcome acd.Outcome, reason string) (bool, error) {
	it, err := s.st.Item(ctx, itemID)
	if err != nil {
		return false, fmt.Errorf("close kept item %d: %w", itemID, err)
	}
	if it.State != acd.StateNew {
		return false, nil
	}
	closed := acd.StateClosed
	data, _ := json.Marshal(map[string]string{"outcome": string(outcome), "reason": reason})
	_, err = s.st.UpdateItem(ctx, itemID, store.ItemUpdate{State: &closed, Outcome: &outcome,
		Event: store.Event{At: s.now(), Type: string(acd.EventClosed), Data: data}})
	if err != nil {
		return false, fmt.Errorf("close kept item %d: %w", itemID, err)
	}
	return true, nil
}
