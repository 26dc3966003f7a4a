-- The audit log: what supervisors and admins did, kept for review; and an
-- index to find a voicemail item's recording.

-- +goose Up
CREATE TABLE audit (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    login  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    detail TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_at ON audit (at);

-- The console finds a voicemail item's recording by its item.
CREATE INDEX voicemails_item ON voicemails (item_id);

-- +goose Down
DROP INDEX voicemails_item;
DROP TABLE audit;
