-- Client keys by reference: a private_key_jwt client registers either its
-- JWKS itself or the https URL it publishes it at (OIDC Core §9, RFC 7591
-- §2 jwks_uri), never both.

-- +goose Up

ALTER TABLE clients
    ADD COLUMN jwks_uri text NOT NULL DEFAULT '',
    DROP CONSTRAINT clients_key_auth_has_keys,
    ADD CONSTRAINT clients_key_auth_has_keys CHECK (
        (auth_method = '' AND jwks = '' AND jwks_uri = '')
        OR (auth_method = 'private_key_jwt' AND secret_hash IS NULL AND (jwks = '') <> (jwks_uri = '')));

-- +goose Down

DELETE FROM clients WHERE jwks_uri <> '';
ALTER TABLE clients
    DROP CONSTRAINT clients_key_auth_has_keys,
    DROP COLUMN jwks_uri,
    ADD CONSTRAINT clients_key_auth_has_keys CHECK (auth_method = '' OR (jwks <> '' AND secret_hash IS NULL));
