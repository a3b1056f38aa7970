-- Browser sign-in (authorization code + PKCE, OpenID Connect): user profile
-- claims, clients' redirect URIs, and three short-lived records: browser
-- sessions, authorization codes and remembered consents. Refresh-token
-- families learn the session and the code they came from, so that logout
-- and a replayed code revoke them (RFC 6749 §4.1.2). The Postgres migration
-- of the same number is the reference; types follow 00001's conventions.

-- +goose Up

ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0
    CHECK (email_verified IN (0, 1) AND (email <> '' OR email_verified = 0));
ALTER TABLE users ADD COLUMN display_name TEXT NOT NULL DEFAULT '';

ALTER TABLE clients ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '[]' CHECK (json_type(redirect_uris) = 'array');
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]' CHECK (json_type(post_logout_redirect_uris) = 'array');
ALTER TABLE clients ADD COLUMN first_party INTEGER NOT NULL DEFAULT 0 CHECK (first_party IN (0, 1));

-- No foreign keys: a family outlives the session and the code it came from.
ALTER TABLE refresh_families ADD COLUMN session_id TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_families ADD COLUMN code_hash BLOB;

-- EndSession, EndUserSessions: revoke the families of a session.
CREATE INDEX refresh_families_session_id ON refresh_families (session_id) WHERE session_id <> '';
-- RedeemCode on a replay: revoke the families issued from the code.
CREATE INDEX refresh_families_code_hash ON refresh_families (code_hash) WHERE code_hash IS NOT NULL;
-- Revoking by subject (disable, password change) and by subject and client
-- (RevokeConsent); replaces the subject index, its leading column. Without
-- statistics SQLite would otherwise revoke a consent through the client
-- index, walking every family of a popular client.
CREATE INDEX refresh_families_subject_client ON refresh_families (subject, client_id);
DROP INDEX refresh_families_subject;

CREATE TABLE browser_sessions (
    id              TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    -- SHA-256 of the cookie value. The unique index serves SessionByHash.
    hash            BLOB    NOT NULL UNIQUE CHECK (length(hash) = 32),
    user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time       INTEGER NOT NULL,
    amr             TEXT    NOT NULL DEFAULT '[]' CHECK (json_type(amr) = 'array'),
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    idle_expires_at INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    CONSTRAINT browser_sessions_idle_within_absolute CHECK (idle_expires_at <= expires_at)
) STRICT;

-- EndUserSessions and the users foreign key.
CREATE INDEX browser_sessions_user_id ON browser_sessions (user_id);
-- PurgeSessions.
CREATE INDEX browser_sessions_idle_expires_at ON browser_sessions (idle_expires_at);

CREATE TABLE auth_codes (
    -- SHA-256 of the code. The primary key serves RedeemCode and
    -- CreateFamily's check.
    hash           BLOB    NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    client_id      TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id        TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id     TEXT    NOT NULL DEFAULT '',
    redirect_uri   TEXT    NOT NULL DEFAULT '',
    -- PKCE S256 only (RFC 7636 §4.2): base64url of a SHA-256.
    code_challenge TEXT    NOT NULL CHECK (length(code_challenge) = 43),
    scope          TEXT    NOT NULL DEFAULT '',
    nonce          TEXT    NOT NULL DEFAULT '',
    auth_time      INTEGER NOT NULL,
    amr            TEXT    NOT NULL DEFAULT '[]' CHECK (json_type(amr) = 'array'),
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    redeemed_at    INTEGER,
    revoked_at     INTEGER,
    revoke_reason  TEXT    NOT NULL DEFAULT '',
    CONSTRAINT auth_codes_reason_only_if_revoked CHECK (revoked_at IS NOT NULL OR revoke_reason = '')
) STRICT;

-- EndSession: revoke the codes of a session.
CREATE INDEX auth_codes_session_id ON auth_codes (session_id) WHERE session_id <> '';
-- Revoking a user's codes, and with client_id RevokeConsent's; also the
-- users foreign key.
CREATE INDEX auth_codes_user_client ON auth_codes (user_id, client_id);
-- DeleteClient cascades to the client's codes.
CREATE INDEX auth_codes_client_id ON auth_codes (client_id);
-- PurgeCodes.
CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);

CREATE TABLE consents (
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    -- Sorted byte-wise, no duplicates.
    scopes     TEXT    NOT NULL DEFAULT '[]' CHECK (json_type(scopes) = 'array'),
    granted_at INTEGER NOT NULL,
    -- Serves Consent, GrantConsent's upsert, Consents and the users foreign
    -- key.
    PRIMARY KEY (user_id, client_id)
) STRICT;

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
ALTER TABLE refresh_families DROP COLUMN code_hash;
ALTER TABLE refresh_families DROP COLUMN session_id;
ALTER TABLE clients DROP COLUMN first_party;
ALTER TABLE clients DROP COLUMN post_logout_redirect_uris;
ALTER TABLE clients DROP COLUMN redirect_uris;
ALTER TABLE clients DROP COLUMN name;
ALTER TABLE users DROP COLUMN display_name;
ALTER TABLE users DROP COLUMN email_verified;
ALTER TABLE users DROP COLUMN email;
