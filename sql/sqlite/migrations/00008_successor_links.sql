-- Spent refresh tokens keep only what reuse detection reads: their key, their
-- family and when they were issued and spent. The link from an unspent token
-- to the token it replaced moves to refresh_successors and goes when that
-- token is spent. The Postgres migration of the same number is the
-- reference and says why.

-- +goose Up

CREATE TABLE refresh_successors (
    -- The unspent token.
    child     BLOB NOT NULL PRIMARY KEY,
    -- The token it replaced.
    parent    BLOB NOT NULL,
    -- The family of both; the link goes with the family, as its tokens do.
    family_id TEXT NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE
) STRICT;

-- A token's successor is its latest child: SQLite appends the rowid
-- (insertion order) to every index, so this yields it without a sort.
CREATE INDEX refresh_successors_parent ON refresh_successors (parent);
CREATE INDEX refresh_successors_family_id ON refresh_successors (family_id);

INSERT INTO refresh_successors (child, parent, family_id)
SELECT hash, parent, family_id FROM refresh_tokens WHERE spent_at IS NULL AND parent IS NOT NULL ORDER BY rowid;

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
