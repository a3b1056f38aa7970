-- Spent refresh tokens keep only what reuse detection reads: their key, their
-- family and when they were issued and spent. The link from an unspent token
-- to the token it replaced moves to refresh_successors and goes when that
-- token is spent. The Postgres migration of the same number is the
-- reference and says why.

-- +goose Up

CREATE TABLE refresh_successors (
    -- The unspent token; the link goes with it when it is deleted.
    child  BLOB NOT NULL PRIMARY KEY REFERENCES refresh_tokens (hash) ON DELETE CASCADE,
    -- The token it replaced.
    parent BLOB NOT NULL
) STRICT;

-- A token's successor is its latest child: SQLite appends the rowid
-- (insertion order) to every index, so this yields it without a sort.
CREATE INDEX refresh_successors_parent ON refresh_successors (parent);

INSERT INTO refresh_successors (child, parent)
SELECT hash, parent FROM refresh_tokens WHERE spent_at IS NULL AND parent IS NOT NULL ORDER BY rowid;

-- Serves the family_id foreign key (the cascade from refresh_families).
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);
DROP INDEX refresh_tokens_family_parent;
ALTER TABLE refresh_tokens DROP COLUMN parent;

-- +goose Down

ALTER TABLE refresh_tokens ADD COLUMN parent BLOB;
UPDATE refresh_tokens SET parent = (SELECT s.parent FROM refresh_successors AS s WHERE s.child = refresh_tokens.hash);
CREATE INDEX refresh_tokens_family_parent ON refresh_tokens (family_id, parent);
DROP INDEX refresh_tokens_family_id;
DROP TABLE refresh_successors;
