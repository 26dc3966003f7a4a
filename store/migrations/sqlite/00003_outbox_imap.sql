-- The durable outbox of letters Moroz sends, and the IMAP messages already
-- taken into the intake (issue #7).

-- +goose Up
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    item_id     INTEGER REFERENCES items (id),
    message_id  TEXT    NOT NULL,
    from_addr   TEXT    NOT NULL DEFAULT '',
    to_addrs    TEXT    NOT NULL,
    raw         BLOB    NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL,
    state       TEXT    NOT NULL,
    last_error  TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX outbox_message ON outbox (message_id);
CREATE INDEX outbox_pending ON outbox (id) WHERE state = 'pending';

CREATE TABLE imap_seen (
    mailbox      TEXT    NOT NULL,
    uid_validity INTEGER NOT NULL,
    uid          INTEGER NOT NULL,
    message_id   TEXT    NOT NULL DEFAULT '',
    seen_at      INTEGER NOT NULL,
    PRIMARY KEY (mailbox, uid_validity, uid)
);

-- +goose Down
DROP TABLE imap_seen;
DROP TABLE outbox;
