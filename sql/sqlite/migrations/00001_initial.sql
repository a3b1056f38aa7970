-- Rotor's initial schema for the embedded store. It mirrors the Postgres
-- schema with SQLite types: times are INTEGER microseconds since the Unix
-- epoch (UTC), NULL meaning "not yet"; string lists are JSON arrays in TEXT;
-- bytes are BLOBs. Tables are STRICT so a value of the wrong type is an error,
-- not a silent conversion. Empty strings stand for "unset" in text columns.

-- +goose Up

-- Marks the file as Rotor's, so Open can refuse an unrelated SQLite database
-- instead of migrating it ('Rotr').
PRAGMA application_id = 1383036018;

CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    name          TEXT    NOT NULL UNIQUE CHECK (name <> ''),
    password_hash TEXT    NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE clients (
    id          TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    -- SHA-256 of a Rotor-generated secret; NULL for public clients.
    secret_hash BLOB,
    public      INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1)),
    grant_types TEXT    NOT NULL DEFAULT '[]' CHECK (json_type(grant_types) = 'array'),
    scopes      TEXT    NOT NULL DEFAULT '[]' CHECK (json_type(scopes) = 'array'),
    audiences   TEXT    NOT NULL DEFAULT '[]' CHECK (json_type(audiences) = 'array'),
    token_alg   TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    -- A public client (RFC 6749 §2.1) cannot authenticate, so a stored secret
    -- would only be a liability.
    CONSTRAINT clients_public_has_no_secret CHECK (NOT public OR secret_hash IS NULL)
) STRICT;

CREATE TABLE signing_keys (
    kid          TEXT    NOT NULL PRIMARY KEY CHECK (kid <> ''),
    alg          TEXT    NOT NULL CHECK (alg <> ''),
    state        TEXT    NOT NULL CHECK (state IN ('next', 'current', 'retired', 'revoked')),
    -- The JWKS is served from these exact bytes.
    public_jwk   BLOB    NOT NULL,
    -- AES-256-GCM nonce||ciphertext of the private key; never logged.
    sealed       BLOB    NOT NULL,
    kek_id       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    activated_at INTEGER,
    retired_at   INTEGER,
    revoked_at   INTEGER
) STRICT;

-- At most one signing key per lane. SQLite checks unique indexes per
-- statement, not at commit, so UpdateLane demotes before it promotes.
CREATE UNIQUE INDEX signing_keys_one_current_per_alg ON signing_keys (alg) WHERE state = 'current';
-- UpdateLane reads a whole lane.
CREATE INDEX signing_keys_alg ON signing_keys (alg);

-- A counter bumped by every change to signing_keys, whoever makes it: the
-- embedded store's stand-in for Postgres' NOTIFY. WatchKeys polls this one
-- row to learn that another process changed the key ring.
CREATE TABLE signing_keys_version (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
) STRICT;

INSERT INTO signing_keys_version (id, version) VALUES (1, 0);

-- +goose StatementBegin
CREATE TRIGGER signing_keys_inserted AFTER INSERT ON signing_keys
BEGIN
    UPDATE signing_keys_version SET version = version + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER signing_keys_updated AFTER UPDATE ON signing_keys
BEGIN
    UPDATE signing_keys_version SET version = version + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER signing_keys_deleted AFTER DELETE ON signing_keys
BEGIN
    UPDATE signing_keys_version SET version = version + 1;
END;
-- +goose StatementEnd

CREATE TABLE refresh_families (
    id            TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    client_id     TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    subject       TEXT    NOT NULL,
    scope         TEXT    NOT NULL DEFAULT '',
    auth_time     INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    revoked_at    INTEGER,
    revoke_reason TEXT    NOT NULL DEFAULT '',
    -- A live family has no revocation reason.
    CONSTRAINT refresh_families_reason_only_if_revoked
        CHECK (revoked_at IS NOT NULL OR revoke_reason = '')
) STRICT;

-- Disabling a user or changing a password revokes by subject.
CREATE INDEX refresh_families_subject ON refresh_families (subject);
-- Deleting a client cascades to its families; without this index SQLite
-- would scan every family for each deleted client.
CREATE INDEX refresh_families_client_id ON refresh_families (client_id);
-- Purging walks expired families.
CREATE INDEX refresh_families_expires_at ON refresh_families (expires_at);

CREATE TABLE refresh_tokens (
    -- SHA-256 of the opaque token; the token itself is never stored.
    hash      BLOB    NOT NULL PRIMARY KEY CHECK (length(hash) > 0),
    family_id TEXT    NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    parent    BLOB,
    issued_at INTEGER NOT NULL,
    spent_at  INTEGER
) STRICT;

-- Finding a token's successor, its latest child by insertion order: SQLite
-- appends the rowid to every index, so this is (family_id, parent, rowid),
-- the counterpart of Postgres' (family_id, parent, seq). Its leading column
-- also serves the family_id foreign key (the cascade from refresh_families),
-- so a separate family_id index would only slow every insert down.
CREATE INDEX refresh_tokens_family_parent ON refresh_tokens (family_id, parent);

-- +goose Down

DROP TABLE refresh_tokens;
DROP TABLE refresh_families;
DROP TABLE signing_keys_version;
DROP TABLE signing_keys;
DROP TABLE clients;
DROP TABLE users;
PRAGMA application_id = 0;
