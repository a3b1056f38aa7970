package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// UseOnce implements idp.ReplayStore in one statement under the write lock:
// the insert wins, or it replaces a record that has expired, or it changes
// nothing and the key was used.
func (s *Store) UseOnce(ctx context.Context, key []byte, expires, now time.Time) (bool, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var fresh bool
	err := s.write(ctx, false, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO used_jtis (key, expires_at) VALUES (?, ?)
ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE used_jtis.expires_at < ?`,
			key, micros(expires), micros(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		fresh = n == 1
		return err
	})
	return fresh, s.mapErr(ctx, "use jti", err)
}

// PurgeReplay implements idp.ReplayStore, in batches like PurgeRefresh.
func (s *Store) PurgeReplay(ctx context.Context, cutoff time.Time) (int, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	total := 0
	for {
		var n int64
		err := s.write(ctx, false, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `
DELETE FROM used_jtis WHERE key IN (
    SELECT key FROM used_jtis WHERE expires_at < ? LIMIT ?)`, micros(cutoff), purgeBatch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, s.mapErr(ctx, "purge jtis", err)
		}
		total += int(n)
		if n < purgeBatch {
			return total, nil
		}
	}
}
