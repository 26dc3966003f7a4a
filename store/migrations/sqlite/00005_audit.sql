-- The audit log: what supervisors and admins did, kept for review.

-- +goose Up
CREATE TABLE audit (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    login  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    detail TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_at ON audit (at);

-- +goose Down
DROP TABLE audit;
