-- No secrets anywhere: clients that authenticate with their own key
-- (private_key_jwt), clients that must bind their tokens to a key (DPoP),
-- refresh families bound to a DPoP key, and the single-use record of the JWT
-- ids of assertions and proofs. The Postgres migration of the same number is
-- the reference; types follow 00001's conventions.

-- +goose Up

ALTER TABLE clients ADD COLUMN auth_method TEXT NOT NULL DEFAULT '' CHECK (auth_method IN ('', 'private_key_jwt'));
ALTER TABLE clients ADD COLUMN jwks TEXT NOT NULL DEFAULT '' CHECK (auth_method = '' OR jwks <> '');
ALTER TABLE clients ADD COLUMN require_dpop INTEGER NOT NULL DEFAULT 0 CHECK (require_dpop IN (0, 1));

ALTER TABLE refresh_families ADD COLUMN jkt TEXT NOT NULL DEFAULT '';

CREATE TABLE used_jtis (
    key        BLOB    NOT NULL PRIMARY KEY CHECK (length(key) = 32),
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX used_jtis_expires_at ON used_jtis (expires_at);

-- +goose Down

DROP TABLE used_jtis;
ALTER TABLE refresh_families DROP COLUMN jkt;
ALTER TABLE clients DROP COLUMN require_dpop;
ALTER TABLE clients DROP COLUMN jwks;
ALTER TABLE clients DROP COLUMN auth_method;
