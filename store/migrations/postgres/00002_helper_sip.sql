-- Desk phones: a helper's SIP digest secret, and one helper per extension.
-- sip_ha1 is the lower-case hex MD5 of "extension:realm:password" (RFC 2617
-- §3.2.2.2), so the password itself is never stored; empty means the
-- extension may not register.

-- +goose Up
ALTER TABLE helpers ADD COLUMN sip_ha1 TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX helpers_extension ON helpers (extension) WHERE extension <> '';

-- +goose Down
DROP INDEX helpers_extension;
ALTER TABLE helpers DROP COLUMN sip_ha1;
