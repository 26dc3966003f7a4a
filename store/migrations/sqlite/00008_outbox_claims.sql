-- Several nodes share one outbox: a sender claims the rows it sends for a
-- lease, so no row goes out from two nodes at once, and another node takes
-- a row over when the lease of a node that died runs out. Sent rows are
-- pruned after a retention, oldest first.

-- +goose Up
ALTER TABLE outbox ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN claimed_until INTEGER;
CREATE INDEX outbox_pending_to ON outbox (channel, to_addrs, id) WHERE state = 'pending';
CREATE INDEX outbox_sent ON outbox (updated_at) WHERE state = 'sent';

-- +goose Down
DROP INDEX outbox_sent;
DROP INDEX outbox_pending_to;
ALTER TABLE outbox DROP COLUMN claimed_until;
ALTER TABLE outbox DROP COLUMN claimed_by;
