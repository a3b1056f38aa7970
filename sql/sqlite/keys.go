package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/keys"
)

// Keys returns every stored key.
func (s *Store) Keys(ctx context.Context) ([]keys.Record, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var recs []keys.Record
	err := s.retry(ctx, func() error {
		recs = nil
		rows, err := s.stmts.allKeys.QueryContext(ctx)
		if err != nil {
			return err
		}
		recs, err = scanKeys(rows)
		return err
	})
	return recs, s.mapErr(ctx, "read keys", err)
}

// UpdateLane runs fn under the database write lock, which serialises it
// with every other writer in every process (SQLite has no finer lock, and
// needs none at Rotor's write rates), and applies its change in the same
// transaction.
func (s *Store) UpdateLane(ctx context.Context, alg keys.Alg, fn func(lane []keys.Record) (keys.Change, error)) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var changed bool
	err := s.write(ctx, true, func(tx *sql.Tx) error {
		changed = false
		rows, err := tx.QueryContext(ctx, `SELECT `+keyColumns+` FROM signing_keys WHERE alg = ? ORDER BY created_at, kid`, string(alg))
		if err != nil {
			return err
		}
		lane, err := scanKeys(rows)
		if err != nil {
			return err
		}
		c, err := fn(lane)
		if err != nil {
			return callbackError{err}
		}
		if err := applyChange(ctx, tx, alg, c); err != nil {
			return err
		}
		changed = !c.Empty()
		return nil
	})
	if err != nil {
		mapped := s.mapErr(ctx, fmt.Sprintf("update %s key lane", alg), err)
		var le lockError
		if errors.As(err, &le) && errors.Is(mapped, idp.ErrUnavailable) {
			return fmt.Errorf("%w: %w", keys.ErrLaneBusy, mapped)
		}
		return mapped
	}
	if changed {
		s.keysChanged()
	}
	return nil
}

// applyChange applies c to the lane alg. SQLite checks the one-current-key
// index after each statement rather than at commit, so a rotation must
// demote the old current key before it promotes the new one: deletes and
// demotions run first, then inserts, then promotions.
func applyChange(ctx context.Context, tx *sql.Tx, alg keys.Alg, c keys.Change) error {
	for _, kid := range c.Delete {
		if _, err := tx.ExecContext(ctx, `DELETE FROM signing_keys WHERE kid = ? AND alg = ?`, kid, string(alg)); err != nil {
			return err
		}
	}
	update := func(r keys.Record) error {
		res, err := tx.ExecContext(ctx, `
UPDATE signing_keys SET state = ?, created_at = ?, activated_at = ?, retired_at = ?, revoked_at = ?, signable_at = ?
WHERE kid = ? AND alg = ?`,
			string(r.State), micros(r.CreatedAt), nullMicros(r.ActivatedAt), nullMicros(r.RetiredAt), nullMicros(r.RevokedAt), nullMicros(r.SignableAt),
			r.KID, string(alg))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		return fmt.Errorf("sqlite: update %s key lane: key %s to update is not in the lane: %w", alg, r.KID, idp.ErrNotFound)
	}
	insert := func(r keys.Record) error {
		if r.Alg != alg {
			return fmt.Errorf("sqlite: update %s key lane: cannot insert a %s key", alg, r.Alg)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (`+keyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.KID, string(r.Alg), string(r.State), r.PublicJWK, r.Sealed, r.KEKID,
			micros(r.CreatedAt), nullMicros(r.ActivatedAt), nullMicros(r.RetiredAt), nullMicros(r.RevokedAt), nullMicros(r.SignableAt))
		return err
	}
	for _, promote := range []bool{false, true} {
		for _, r := range c.Update {
			if (r.State == keys.StateCurrent) == promote {
				if err := update(r); err != nil {
					return err
				}
			}
		}
		for _, r := range c.Insert {
			if (r.State == keys.StateCurrent) == promote {
				if err := insert(r); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// RewrapKeys replaces the sealed private key and KEK id of the given keys in
// one transaction, skipping keys that no longer exist.
func (s *Store) RewrapKeys(ctx context.Context, rewrapped []keys.Record) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	if len(rewrapped) == 0 {
		return nil
	}
	var changed bool
	err := s.write(ctx, true, func(tx *sql.Tx) error {
		changed = false
		for _, r := range rewrapped {
			res, err := tx.ExecContext(ctx, `UPDATE signing_keys SET sealed = ?, kek_id = ? WHERE kid = ?`, r.Sealed, r.KEKID, r.KID)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			changed = changed || n > 0
		}
		return nil
	})
	if err != nil {
		return s.mapErr(ctx, "rewrap keys", err)
	}
	if changed {
		s.keysChanged()
	}
	return nil
}

func scanKeys(rows *sql.Rows) ([]keys.Record, error) {
	defer rows.Close()
	var recs []keys.Record
	for rows.Next() {
		var (
			r                                     keys.Record
			alg, state                            string
			created                               int64
			activated, retired, revoked, signable sql.NullInt64
		)
		if err := rows.Scan(&r.KID, &alg, &state, &r.PublicJWK, &r.Sealed, &r.KEKID, &created, &activated, &retired, &revoked, &signable); err != nil {
			return nil, err
		}
		r.Alg, r.State = keys.Alg(alg), keys.State(state)
		r.CreatedAt, r.ActivatedAt, r.RetiredAt, r.RevokedAt = fromMicros(created), fromNullMicros(activated), fromNullMicros(retired), fromNullMicros(revoked)
		r.SignableAt = fromNullMicros(signable)
		recs = append(recs, r)
	}
	return recs, rows.Err()
}
