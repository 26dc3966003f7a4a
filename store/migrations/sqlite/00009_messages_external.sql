-- One index of messages by external id instead of two. Led by the id, the
-- unique index that dedupes a channel's messages also finds a thread's
-- message in any channel, so every message stored updates one index fewer
-- (for a letter: one random page fewer in each commit).

-- +goose Up
DROP INDEX messages_external_any;
DROP INDEX messages_external;
CREATE UNIQUE INDEX messages_external ON messages (external_id, channel) WHERE external_id <> '';

-- +goose Down
DROP INDEX messages_external;
CREATE UNIQUE INDEX messages_external ON messages (channel, external_id) WHERE external_id <> '';
CREATE INDEX messages_external_any ON messages (external_id) WHERE external_id <> '';
