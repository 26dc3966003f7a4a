-- The outbox carries Telegram replies as well as letters (issue #8): each
-- row names the channel that sends it, and each channel's sender loads only
-- its own pending rows.

-- +goose Up
ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT 'email';
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (channel, id) WHERE state = 'pending';

-- +goose Down
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (id) WHERE state = 'pending';
ALTER TABLE outbox DROP COLUMN channel;
