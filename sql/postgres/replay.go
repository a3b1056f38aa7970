package postgres

import (
	"context"
	"time"
)

// UseOnce implements idp.ReplayStore in one statement: the insert wins, or
// it replaces a record that has expired, or it changes nothing and the key
// was used. The primary key serialises concurrent callers.
func (s *Store) UseOnce(ctx context.Context, key []byte, expires, now time.Time) (bool, error) {
	var fresh bool
	err := s.run(ctx, "use jti", func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx,
			`INSERT INTO used_jtis (key, expires_at) VALUES ($1, $2)
			 ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
			 WHERE used_jtis.expires_at < $3`, key, expires, now)
		fresh = err == nil && tag.RowsAffected() == 1
		return err
	})
	return fresh, err
}

// PurgeReplay implements idp.ReplayStore.
func (s *Store) PurgeReplay(ctx context.Context, cutoff time.Time) (int, error) {
	var n int
	err := s.run(ctx, "purge jtis", func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, `DELETE FROM used_jtis WHERE expires_at < $1`, cutoff)
		n = int(tag.RowsAffected())
		return err
	})
	return n, err
}
