package console

import (
	"context"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/stats"
	"github.com/morozhq/moroz/store"
)

// Desk is what the console asks of the work service (package work): it
// stores and routes what helpers do and tells the console what happened.
// Every method is safe for concurrent use.
type Desk interface {
	// SetStatus sets a helper's presence.
	SetStatus(ctx context.Context, helperID int64, s acd.Status, reason string) error
	// Accept and Reject answer the helper's pending offer of an item.
	Accept(ctx context.Context, itemID, helperID int64) error
	Reject(ctx context.Context, itemID, helperID int64) error
	// Reply stores an outbound message of an item the helper holds.
	Reply(ctx context.Context, itemID, helperID int64, m store.Message) (store.Message, error)
	// Complete ends the helper's work on an item and starts wrap-up;
	// EndWrapUp ends the wrap-up early.
	Complete(ctx context.Context, itemID, helperID int64, outcome acd.Outcome, note string) error
	EndWrapUp(ctx context.Context, helperID int64) error
	// Transfer moves an item to another queue or helper; Recall takes it
	// from its helper back to its queue.
	Transfer(ctx context.Context, itemID int64, to acd.Target) error
	Recall(ctx context.Context, itemID int64) error
	// Helpers and Queues are snapshots of the router's state.
	Helpers() []acd.HelperInfo
	Queues() []acd.QueueInfo
	// Live returns the wallboard's numbers.
	Live(ctx context.Context) (stats.Live, error)
	// Listen calls f with every router event, in order, after it is
	// stored; f must not block. stop ends the calls.
	Listen(f func(acd.Event)) (stop func())
}
