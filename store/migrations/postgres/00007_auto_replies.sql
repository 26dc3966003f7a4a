-- When each sender last got an automatic reply, so that a sender gets at
-- most one per window (RFC 3834 §2). It replaces the contact field the
-- mail intake kept the mark in and the scan of a sender's items.

-- +goose Up
CREATE TABLE auto_replies (
    sender     TEXT        PRIMARY KEY,
    replied_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE auto_replies;
