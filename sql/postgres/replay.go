package postgres

import (
	"context"
	"time"
)

// UseOnce implements idp.ReplayStore. Concurrent calls in one process are
// grouped (see replayBatcher): the first caller sends its key at once, and
// the keys that arrive while a statement is in flight go together in the
// next one. Either way each key is one row of one statement: the insert
// wins, or it replaces a record that has expired, or it changes nothing and
// the key was used. The primary key serialises concurrent callers, also
// across replicas.
func (s *Store) UseOnce(ctx context.Context, key []byte, expires, now time.Time) (bool, error) {
	return s.replay.use(ctx, s, &replayCall{key: key, expires: expires, now: now})
}

// useOne records one key.
func (s *Store) useOne(ctx context.Context, c *replayCall) error {
	return s.run(ctx, "use jti", func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx,
			`INSERT INTO used_jtis (key, expires_at) VALUES ($1, $2)
			 ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
			 WHERE used_jtis.expires_at < $3`, c.key, c.expires, c.now)
		c.fresh = err == nil && tag.RowsAffected() == 1
		return err
	})
}

// useMany records distinct keys, sorted so that two replicas' statements
// lock rows in one order, in one statement that returns the keys it
// recorded. Each key is compared with its own caller's now.
func (s *Store) useMany(ctx context.Context, calls []*replayCall) error {
	keys := make([][]byte, len(calls))
	expires := make([]time.Time, len(calls))
	nows := make([]time.Time, len(calls))
	for i, c := range calls {
		keys[i], expires[i], nows[i] = c.key, c.expires, c.now
	}
	return s.run(ctx, "use jti", func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx,
			`WITH input (key, expires_at, now_at) AS (
			   SELECT * FROM unnest($1::bytea[], $2::timestamptz[], $3::timestamptz[]))
			 INSERT INTO used_jtis AS u (key, expires_at)
			 SELECT key, expires_at FROM input
			 ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
			 WHERE u.expires_at < (SELECT i.now_at FROM input i WHERE i.key = excluded.key)
			 RETURNING key`, keys, expires, nows)
		if err != nil {
			return err
		}
		fresh := make(map[string]bool, len(calls))
		var key []byte
		for rows.Next() {
			if err := rows.Scan(&key); err != nil {
				return err
			}
			fresh[string(key)] = true
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, c := range calls {
			c.fresh = fresh[string(c.key)]
		}
		return nil
	})
}

// PurgeReplay implements idp.ReplayStore in short batches, by one replica
// at a time (see purge): every DPoP proof and client assertion leaves a
// record, so an hour's worth can be millions of rows.
func (s *Store) PurgeReplay(ctx context.Context, cutoff time.Time) (int, error) {
	return s.purge(ctx, purgeJTIs, cutoff)
}
