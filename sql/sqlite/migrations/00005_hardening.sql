-- Hardening: a user's credential version, and which clients may introspect
-- tokens issued to others.
--
-- users.credential_version goes up with every password change and every
-- disable. A browser session or a refresh-token family is created only for
-- the version its password check read, under a lock those changes take, so
-- nothing authenticated with an old password (or before a disable) outlives
-- the change.
--
-- clients.introspect lets a client introspect tokens issued to other
-- clients (RFC 7662 §2.2); without it a client learns only about its own.

-- +goose Up

ALTER TABLE users ADD COLUMN credential_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN introspect INTEGER NOT NULL DEFAULT 0 CHECK (introspect IN (0, 1));

-- +goose Down

ALTER TABLE clients DROP COLUMN introspect;
ALTER TABLE users DROP COLUMN credential_version;
