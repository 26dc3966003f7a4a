-- The first schema of Moroz on SQLite. Times are microseconds since the Unix
-- epoch (UTC), NULL when unset; JSON is text; ids are rowids.

-- +goose Up
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    login         TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL,
    password_hash TEXT    NOT NULL DEFAULT '',
    lang          TEXT    NOT NULL DEFAULT '',
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    role       TEXT    NOT NULL,
    hash       BLOB    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE sessions (
    hash       BLOB    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE helpers (
    user_id   INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    queues    TEXT,
    skills    TEXT,
    capacity  TEXT,
    extension TEXT NOT NULL DEFAULT ''
);

CREATE TABLE contacts (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL DEFAULT '',
    lang       TEXT    NOT NULL DEFAULT '',
    fields     TEXT,
    created_at INTEGER NOT NULL
);

CREATE TABLE identities (
    id         INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    UNIQUE (kind, value)
);
CREATE INDEX identities_contact ON identities (contact_id);

CREATE TABLE items (
    id          INTEGER PRIMARY KEY,
    channel     TEXT    NOT NULL,
    external_id TEXT    NOT NULL DEFAULT '',
    queue       TEXT    NOT NULL DEFAULT '',
    state       TEXT    NOT NULL,
    priority    INTEGER NOT NULL DEFAULT 0,
    skills      TEXT,
    subject     TEXT    NOT NULL DEFAULT '',
    contact_id  INTEGER REFERENCES contacts (id),
    helper_id   INTEGER REFERENCES users (id),
    outcome     TEXT    NOT NULL DEFAULT '',
    parent_id   INTEGER REFERENCES items (id),
    data        TEXT,
    created_at  INTEGER NOT NULL,
    sla_due     INTEGER,
    updated_at  INTEGER NOT NULL,
    closed_at   INTEGER
);
CREATE UNIQUE INDEX items_external ON items (channel, external_id) WHERE external_id <> '';
CREATE INDEX items_state ON items (state, id);
CREATE INDEX items_queue ON items (queue, id);
CREATE INDEX items_channel ON items (channel, id);
CREATE INDEX items_helper ON items (helper_id, id) WHERE helper_id IS NOT NULL;
CREATE INDEX items_contact ON items (contact_id, id) WHERE contact_id IS NOT NULL;
CREATE INDEX items_open ON items (id) WHERE closed_at IS NULL;

CREATE TABLE events (
    id        INTEGER PRIMARY KEY,
    item_id   INTEGER NOT NULL REFERENCES items (id),
    at        INTEGER NOT NULL,
    type      TEXT    NOT NULL,
    helper_id INTEGER,
    data      TEXT
);
CREATE INDEX events_item ON events (item_id, id);

-- +goose StatementBegin
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
-- +goose StatementEnd

CREATE TABLE templates (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    lang       TEXT    NOT NULL DEFAULT '',
    queue      TEXT    NOT NULL DEFAULT '',
    subject    TEXT    NOT NULL DEFAULT '',
    body       TEXT    NOT NULL DEFAULT '',
    uses       INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (name, lang, queue)
);

CREATE TABLE messages (
    id          INTEGER PRIMARY KEY,
    item_id     INTEGER NOT NULL REFERENCES items (id),
    channel     TEXT    NOT NULL,
    direction   TEXT    NOT NULL,
    external_id TEXT    NOT NULL DEFAULT '',
    from_addr   TEXT    NOT NULL DEFAULT '',
    to_addr     TEXT    NOT NULL DEFAULT '',
    subject     TEXT    NOT NULL DEFAULT '',
    text        TEXT    NOT NULL DEFAULT '',
    html        TEXT    NOT NULL DEFAULT '',
    headers     TEXT,
    helper_id   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    template_id INTEGER REFERENCES templates (id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX messages_external ON messages (channel, external_id) WHERE external_id <> '';
CREATE INDEX messages_external_any ON messages (external_id) WHERE external_id <> '';
CREATE INDEX messages_item ON messages (item_id, id);

CREATE TABLE calls (
    id           INTEGER PRIMARY KEY,
    call_id      TEXT    NOT NULL UNIQUE,
    item_id      INTEGER REFERENCES items (id),
    direction    TEXT    NOT NULL DEFAULT '',
    from_addr    TEXT    NOT NULL DEFAULT '',
    to_addr      TEXT    NOT NULL DEFAULT '',
    queue        TEXT    NOT NULL DEFAULT '',
    helper_id    INTEGER REFERENCES users (id) ON DELETE SET NULL,
    outcome      TEXT    NOT NULL DEFAULT '',
    reason       TEXT    NOT NULL DEFAULT '',
    arrived_at   INTEGER,
    answered_at  INTEGER,
    enqueued_at  INTEGER,
    connected_at INTEGER,
    ended_at     INTEGER
);
CREATE INDEX calls_arrived ON calls (arrived_at);

CREATE TABLE voicemails (
    id          INTEGER PRIMARY KEY,
    item_id     INTEGER REFERENCES items (id),
    call_id     TEXT    NOT NULL DEFAULT '',
    from_addr   TEXT    NOT NULL DEFAULT '',
    path        TEXT    NOT NULL,
    duration_ns INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);

CREATE TABLE mailings (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    template_id  INTEGER REFERENCES templates (id) ON DELETE SET NULL,
    audience     TEXT,
    state        TEXT    NOT NULL,
    rate_per_min INTEGER NOT NULL DEFAULT 0,
    scheduled_at INTEGER,
    created_at   INTEGER NOT NULL,
    total        INTEGER NOT NULL DEFAULT 0,
    sent         INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE recipients (
    mailing_id INTEGER NOT NULL REFERENCES mailings (id) ON DELETE CASCADE,
    contact_id INTEGER NOT NULL REFERENCES contacts (id),
    state      TEXT    NOT NULL,
    sent_at    INTEGER,
    error      TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (mailing_id, contact_id)
);
CREATE INDEX recipients_state ON recipients (mailing_id, state, contact_id);

-- +goose Down
DROP TABLE recipients;
DROP TABLE mailings;
DROP TABLE voicemails;
DROP TABLE calls;
DROP TABLE messages;
DROP TABLE templates;
DROP TABLE events;
DROP TABLE items;
DROP TABLE identities;
DROP TABLE contacts;
DROP TABLE helpers;
DROP TABLE sessions;
DROP TABLE tokens;
DROP TABLE users;
