-- Spent refresh tokens keep only what reuse detection reads: their key, their
-- family and when they were issued and spent. The link from a token to the
-- token it replaced is needed only while the newer one is unspent (a client
-- retrying a spent token within the reuse interval gets that unspent
-- successor replaced; once the successor is spent, a retry is reuse whatever
-- it points to). So the links move out of refresh_tokens into
-- refresh_successors, which holds a row per unspent token that has a parent
-- (about one per live family) and loses it when that token is spent: the
-- parent column and the (family_id, parent, seq) index entry of every spent
-- token, some 90 of its ~340 bytes, are gone, and spending a token still
-- changes no indexed column of refresh_tokens (a HOT update).
--
-- A plain CREATE INDEX blocks writes to refresh_tokens while it runs: on ten
-- million tokens that is seconds to tens of seconds, once.

-- +goose Up

CREATE TABLE refresh_successors (
    -- The unspent token.
    child     bytea  PRIMARY KEY,
    -- The token it replaced.
    parent    bytea  NOT NULL,
    -- The family of both: tokens are deleted only with their family, and
    -- the link goes with it too, one lookup per family rather than one per
    -- token when a purge deletes thousands of tokens.
    family_id text   NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    -- Insertion order: a token's successor is its latest child.
    seq       bigint GENERATED ALWAYS AS IDENTITY
);

CREATE INDEX refresh_successors_parent ON refresh_successors (parent, seq);
CREATE INDEX refresh_successors_family_id ON refresh_successors (family_id);

INSERT INTO refresh_successors (child, parent, family_id)
SELECT hash, parent, family_id FROM refresh_tokens WHERE spent_at IS NULL AND parent IS NOT NULL ORDER BY seq;

-- Serves the family_id foreign key (the cascade from refresh_families).
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);
DROP INDEX refresh_tokens_family_parent;
ALTER TABLE refresh_tokens DROP COLUMN parent, DROP COLUMN seq;

-- +goose Down

ALTER TABLE refresh_tokens ADD COLUMN parent bytea, ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
UPDATE refresh_tokens t SET parent = s.parent FROM refresh_successors s WHERE s.child = t.hash;
CREATE INDEX refresh_tokens_family_parent ON refresh_tokens (family_id, parent, seq);
DROP INDEX refresh_tokens_family_id;
DROP TABLE refresh_successors;
