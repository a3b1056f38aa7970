-- The earliest time a signing key may sign (keys.Record.SignableAt), in
-- microseconds since the Unix epoch, stamped by whoever publishes the key:
-- its creation time plus that process's propagation delay. Servers and admin
-- commands obey the stamp instead of their own --key-propagation-delay.
--
-- Keys published before this migration keep NULL: readers judge them by
-- their own propagation delay, exactly as before, until the first server's
-- maintenance (at its start) stamps each lane's next key with that server's
-- delay; current and older keys never need one. Computing a stamp here would
-- have to guess the delay their publisher used (the schema never recorded
-- it), and a guess shorter than the real one would let a key sign before
-- every cache knows it.

-- +goose Up

ALTER TABLE signing_keys ADD COLUMN signable_at INTEGER;

-- +goose Down

ALTER TABLE signing_keys DROP COLUMN signable_at;
