-- Browser sign-in (authorization code + PKCE, OpenID Connect): user profile
-- claims, clients' redirect URIs, and three short-lived records: browser
-- sessions, authorization codes and remembered consents. Refresh-token
-- families learn the session and the code they came from, so that logout
-- and a replayed code revoke them (RFC 6749 §4.1.2).
--
-- Adding a NOT NULL column with a constant default rewrites nothing on
-- Postgres 11 and later, so this is quick on a large database.

-- +goose Up

ALTER TABLE users
    ADD COLUMN email          text    NOT NULL DEFAULT '',
    ADD COLUMN email_verified boolean NOT NULL DEFAULT false,
    ADD COLUMN display_name   text    NOT NULL DEFAULT '',
    ADD CONSTRAINT users_verified_needs_email CHECK (email <> '' OR NOT email_verified);

ALTER TABLE clients
    ADD COLUMN name                      text    NOT NULL DEFAULT '',
    ADD COLUMN redirect_uris             text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN post_logout_redirect_uris text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN first_party               boolean NOT NULL DEFAULT false;

-- No foreign keys: a family outlives the session and the code it came from
-- (both are purged long before a 30-day family expires).
ALTER TABLE refresh_families
    ADD COLUMN session_id text  NOT NULL DEFAULT '',
    ADD COLUMN code_hash  bytea;

-- EndSession, EndUserSessions: revoke the families of a session. Partial, as
-- families of the password grant have no session.
CREATE INDEX refresh_families_session_id ON refresh_families (session_id) WHERE session_id <> '';
-- RedeemCode on a replay: revoke the families issued from the code.
CREATE INDEX refresh_families_code_hash ON refresh_families (code_hash) WHERE code_hash IS NOT NULL;
-- Revoking by subject (disable, password change) and by subject and client
-- (RevokeConsent); replaces the subject index, its leading column.
CREATE INDEX refresh_families_subject_client ON refresh_families (subject, client_id);
DROP INDEX refresh_families_subject;

CREATE TABLE browser_sessions (
    -- Random and not secret: named by families, codes, logs and sid.
    id              text        PRIMARY KEY CHECK (id <> ''),
    -- SHA-256 of the cookie value; the value itself is never stored.
    -- The unique index serves SessionByHash.
    hash            bytea       NOT NULL UNIQUE CHECK (length(hash) = 32),
    user_id         text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time       timestamptz NOT NULL,
    amr             text[]      NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL,
    idle_expires_at timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    -- TouchSession never extends past the absolute expiry, so purging by
    -- idle_expires_at alone finds every expired session.
    CONSTRAINT browser_sessions_idle_within_absolute CHECK (idle_expires_at <= expires_at)
);

-- EndUserSessions (disable, password change) and the users foreign key.
CREATE INDEX browser_sessions_user_id ON browser_sessions (user_id);
-- PurgeSessions.
CREATE INDEX browser_sessions_idle_expires_at ON browser_sessions (idle_expires_at);

CREATE TABLE auth_codes (
    -- SHA-256 of the code; the code itself is never stored. The primary
    -- key serves RedeemCode and CreateFamily's check.
    hash           bytea       PRIMARY KEY CHECK (length(hash) = 32),
    client_id      text        NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id        text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id     text        NOT NULL DEFAULT '',
    redirect_uri   text        NOT NULL DEFAULT '',
    -- PKCE S256 only (RFC 7636 §4.2): base64url of a SHA-256, 43 characters.
    code_challenge text        NOT NULL CHECK (length(code_challenge) = 43),
    scope          text        NOT NULL DEFAULT '',
    nonce          text        NOT NULL DEFAULT '',
    auth_time      timestamptz NOT NULL,
    amr            text[]      NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    redeemed_at    timestamptz,
    revoked_at     timestamptz,
    revoke_reason  text        NOT NULL DEFAULT '',
    CONSTRAINT auth_codes_reason_only_if_revoked CHECK (revoked_at IS NOT NULL OR revoke_reason = '')
);

-- EndSession: revoke the codes of a session.
CREATE INDEX auth_codes_session_id ON auth_codes (session_id) WHERE session_id <> '';
-- Revoking a user's codes (disable, password change) and, with client_id,
-- RevokeConsent's; also the users foreign key.
CREATE INDEX auth_codes_user_client ON auth_codes (user_id, client_id);
-- DeleteClient cascades to the client's codes.
CREATE INDEX auth_codes_client_id ON auth_codes (client_id);
-- PurgeCodes.
CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);

CREATE TABLE consents (
    user_id    text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  text        NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    -- Sorted byte-wise, no duplicates.
    scopes     text[]      NOT NULL DEFAULT '{}',
    granted_at timestamptz NOT NULL,
    -- Serves Consent, GrantConsent's upsert, Consents (a user's, by client)
    -- and the users foreign key.
    PRIMARY KEY (user_id, client_id)
);

-- DeleteClient cascades to the client's consents.
CREATE INDEX consents_client_id ON consents (client_id);

-- +goose Down

DROP TABLE consents;
DROP TABLE auth_codes;
DROP TABLE browser_sessions;
CREATE INDEX refresh_families_subject ON refresh_families (subject);
DROP INDEX refresh_families_subject_client;
DROP INDEX refresh_families_code_hash;
DROP INDEX refresh_families_session_id;
ALTER TABLE refresh_families DROP COLUMN code_hash, DROP COLUMN session_id;
ALTER TABLE clients
    DROP COLUMN first_party,
    DROP COLUMN post_logout_redirect_uris,
    DROP COLUMN redirect_uris,
    DROP COLUMN name;
ALTER TABLE users
    DROP CONSTRAINT users_verified_needs_email,
    DROP COLUMN display_name,
    DROP COLUMN email_verified,
    DROP COLUMN email;
