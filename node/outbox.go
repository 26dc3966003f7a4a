package node

import (
	"context"
	"log/slog"
	"time"

	"github.com/morozhq/moroz/store"
)

// Sent rows of the store's outbox are pruned once they are older than
// outbox.retention: at start, then every pruneEvery, pruneBatch rows per
// commit so that other writers get between the batches. Every node
// prunes; deleting what another node deleted first is no harm.
const (
	pruneEvery = time.Hour
	pruneBatch = 500
)

// runPrune prunes the outbox until ctx ends or the node drains.
func (n *Node) runPrune(ctx context.Context) {
	if n.cfg.Outbox.Retention <= 0 {
		return
	}
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		pruneSent(ctx, n.store, time.Now().Add(-n.cfg.Outbox.Retention), pruneBatch, n.log)
		select {
		case <-ctx.Done():
			return
		case <-n.drained:
			return
		case <-t.C:
		}
	}
}

// pruneSent deletes the sent rows last updated before cut, batch rows per
// commit, and returns how many went.
func pruneSent(ctx context.Context, st store.Outbound, cut time.Time, batch int, log *slog.Logger) int {
	total := 0
	for ctx.Err() == nil {
		n, err := st.PruneOut(ctx, cut, batch)
		total += n
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("outbox not pruned; will try again", "component", "outbox", "err", err)
			}
			break
		}
		if n < batch {
			break
		}
	}
	if total > 0 {
		log.Info("outbox pruned", "component", "outbox", "rows", total, "sent_before", cut.UTC().Format(time.RFC3339))
	}
	return total
}
