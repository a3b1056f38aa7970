-- The earliest time a signing key may sign (keys.Record.SignableAt), stamped
-- by whoever publishes the key: its creation time plus that replica's
-- propagation delay. Replicas and admin commands obey the stamp instead of
-- their own --key-propagation-delay, so a command run without the servers'
-- timing flags judges a rotation as the servers do.
--
-- Keys published before this migration keep NULL: readers judge them by
-- their own propagation delay, exactly as before, until the first server's
-- maintenance (at its start) stamps each lane's next key with that server's
-- delay; current and older keys never need one. Computing a stamp here would
-- have to guess the delay their publisher used (the schema never recorded
-- it), and a guess shorter than the real one would let a key sign before
-- every cache knows it.

-- +goose Up

ALTER TABLE signing_keys ADD COLUMN signable_at timestamptz;

-- +goose Down

ALTER TABLE signing_keys DROP COLUMN signable_at;
