-- Client keys by reference: a private_key_jwt client registers either its
-- JWKS itself or the https URL it publishes it at, never both. The Postgres
-- migration of the same number is the reference. SQLite cannot change a
-- column's CHECK, so jwks is rebuilt under the new rule.

-- +goose Up

ALTER TABLE clients ADD COLUMN jwks_next TEXT NOT NULL DEFAULT '';
UPDATE clients SET jwks_next = jwks;
ALTER TABLE clients DROP COLUMN jwks;
ALTER TABLE clients RENAME COLUMN jwks_next TO jwks;
ALTER TABLE clients ADD COLUMN jwks_uri TEXT NOT NULL DEFAULT '' CHECK (
    (auth_method = '' AND jwks = '' AND jwks_uri = '')
    OR (auth_method = 'private_key_jwt' AND (jwks = '') <> (jwks_uri = '')));

-- +goose Down

DELETE FROM clients WHERE jwks_uri <> '';
ALTER TABLE clients DROP COLUMN jwks_uri;
ALTER TABLE clients ADD COLUMN jwks_prev TEXT NOT NULL DEFAULT '';
UPDATE clients SET jwks_prev = jwks;
ALTER TABLE clients DROP COLUMN jwks;
ALTER TABLE clients RENAME COLUMN jwks_prev TO jwks;
