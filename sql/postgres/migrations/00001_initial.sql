-- Rotor's initial schema: users, OAuth clients, signing keys and refresh-token
-- families. Times are timestamptz (UTC on the way out); NULL means "not yet".
-- Empty strings stand for "unset" in text columns so that no column has two
-- spellings of nothing.

-- +goose Up

CREATE TABLE users (
    id            text        PRIMARY KEY CHECK (id <> ''),
    name          text        NOT NULL UNIQUE CHECK (name <> ''),
    password_hash text        NOT NULL,
    disabled      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE clients (
    id          text        PRIMARY KEY CHECK (id <> ''),
    -- SHA-256 of a Rotor-generated secret; NULL for public clients.
    secret_hash bytea,
    public      boolean     NOT NULL DEFAULT false,
    grant_types text[]      NOT NULL DEFAULT '{}',
    scopes      text[]      NOT NULL DEFAULT '{}',
    audiences   text[]      NOT NULL DEFAULT '{}',
    token_alg   text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    -- A public client (RFC 6749 §2.1) cannot authenticate, so a stored secret
    -- would only be a liability.
    CONSTRAINT clients_public_has_no_secret CHECK (NOT public OR secret_hash IS NULL)
);

CREATE TABLE signing_keys (
    kid          text        PRIMARY KEY CHECK (kid <> ''),
    alg          text        NOT NULL CHECK (alg <> ''),
    state        text        NOT NULL CHECK (state IN ('next', 'current', 'retired', 'revoked')),
    -- bytea, not jsonb: the JWKS is served from these exact bytes, and jsonb
    -- would reorder members and drop whitespace.
    public_jwk   bytea       NOT NULL,
    -- AES-256-GCM nonce||ciphertext of the private key; never logged.
    sealed       bytea       NOT NULL,
    kek_id       text        NOT NULL,
    created_at   timestamptz NOT NULL,
    activated_at timestamptz,
    retired_at   timestamptz,
    revoked_at   timestamptz,
    -- At most one signing key per lane. Deferred to commit so a rotation can
    -- promote next and demote current in either order within one transaction.
    CONSTRAINT signing_keys_one_current_per_alg
        EXCLUDE USING btree (alg WITH =) WHERE (state = 'current')
        DEFERRABLE INITIALLY DEFERRED
);

CREATE INDEX signing_keys_alg ON signing_keys (alg);

CREATE TABLE refresh_families (
    id            text        PRIMARY KEY CHECK (id <> ''),
    client_id     text        NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    subject       text        NOT NULL,
    scope         text        NOT NULL DEFAULT '',
    auth_time     timestamptz NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    revoke_reason text        NOT NULL DEFAULT '',
    -- A live family has no revocation reason.
    CONSTRAINT refresh_families_reason_only_if_revoked
        CHECK (revoked_at IS NOT NULL OR revoke_reason = '')
);

-- Disabling a user or changing a password revokes by subject.
CREATE INDEX refresh_families_subject ON refresh_families (subject);
-- Deleting a client cascades to its families.
CREATE INDEX refresh_families_client_id ON refresh_families (client_id);
-- Purging walks expired families.
CREATE INDEX refresh_families_expires_at ON refresh_families (expires_at);

CREATE TABLE refresh_tokens (
    -- SHA-256 of the opaque token; the token itself is never stored.
    hash      bytea       PRIMARY KEY CHECK (length(hash) > 0),
    family_id text        NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    parent    bytea,
    issued_at timestamptz NOT NULL,
    spent_at  timestamptz,
    -- Insertion order. A token can have several children (a retry within the
    -- reuse interval replaces the first successor); the latest one is its
    -- successor, and issued_at alone cannot break ties.
    seq       bigint      GENERATED ALWAYS AS IDENTITY
);

-- Finding a token's successor; also serves the family_id foreign key (as its
-- leading column), so no separate family_id index is needed.
CREATE INDEX refresh_tokens_family_parent ON refresh_tokens (family_id, parent, seq);

-- +goose Down

DROP TABLE refresh_tokens;
DROP TABLE refresh_families;
DROP TABLE signing_keys;
DROP TABLE clients;
DROP TABLE users;
