-- Only Telegram's replies are claimed in order per recipient, so only its
-- pending rows need the index by recipient: every letter's outbox row (an
-- auto-reply, a reply) kept that index up, one more random page in each
-- commit of the mail intake.

-- +goose Up
DROP INDEX outbox_pending_to;
CREATE INDEX outbox_pending_to ON outbox (to_addrs, id) WHERE state = 'pending' AND channel = 'telegram';

-- +goose Down
DROP INDEX outbox_pending_to;
CREATE INDEX outbox_pending_to ON outbox (channel, to_addrs, id) WHERE state = 'pending';
