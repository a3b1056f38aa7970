-- No secrets anywhere: clients that authenticate with their own key
-- (private_key_jwt, RFC 7523 §2.2, OIDC Core §9) instead of a shared secret,
-- clients that must bind their tokens to a key (DPoP, RFC 9449), refresh
-- families bound to a DPoP key, and the single-use record of the JWT ids of
-- assertions and proofs, shared by every replica.

-- +goose Up

ALTER TABLE clients
    -- '' (client_secret_* or none, by public) or 'private_key_jwt'.
    ADD COLUMN auth_method  text    NOT NULL DEFAULT '' CHECK (auth_method IN ('', 'private_key_jwt')),
    -- The client's public JWKS (JSON), for private_key_jwt.
    ADD COLUMN jwks         text    NOT NULL DEFAULT '',
    ADD COLUMN require_dpop boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT clients_key_auth_has_keys CHECK (auth_method = '' OR (jwks <> '' AND secret_hash IS NULL));

-- RFC 7638 thumbprint of the DPoP key a public client's family is bound to
-- (RFC 9449 §5); '' for an unbound family.
ALTER TABLE refresh_families ADD COLUMN jkt text NOT NULL DEFAULT '';

-- One row per JWT id seen (a client assertion's or a DPoP proof's), keyed by
-- SHA-256 of its scope and value; kept until the JWT would be refused anyway.
CREATE TABLE used_jtis (
    key        bytea       PRIMARY KEY CHECK (length(key) = 32),
    expires_at timestamptz NOT NULL
);
CREATE INDEX used_jtis_expires_at ON used_jtis (expires_at);

-- +goose Down

DROP TABLE used_jtis;
ALTER TABLE refresh_families DROP COLUMN jkt;
ALTER TABLE clients
    DROP CONSTRAINT clients_key_auth_has_keys,
    DROP COLUMN require_dpop,
    DROP COLUMN jwks,
    DROP COLUMN auth_method;
