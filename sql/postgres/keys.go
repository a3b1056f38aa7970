package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/keys"
)

// KeysChannel is the LISTEN/NOTIFY channel on which key changes are
// announced; the payload is the lane's algorithm.
const KeysChannel = "rotor_keys"

const keyColumns = `kid, alg, state, public_jwk, sealed, kek_id, created_at, activated_at, retired_at, revoked_at, signable_at`

func scanKey(row pgx.Row) (keys.Record, error) {
	var r keys.Record
	var created, activated, retired, revoked, signable pgtype.Timestamptz
	err := row.Scan(&r.KID, &r.Alg, &r.State, &r.PublicJWK, &r.Sealed, &r.KEKID, &created, &activated, &retired, &revoked, &signable)
	r.PublicJWK, r.Sealed = nilIfEmpty(r.PublicJWK), nilIfEmpty(r.Sealed)
	r.CreatedAt, r.ActivatedAt, r.RetiredAt, r.RevokedAt = fromNull(created), fromNull(activated), fromNull(retired), fromNull(revoked)
	r.SignableAt = fromNull(signable)
	return r, err
}

func collectKeys(rows pgx.Rows) ([]keys.Record, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (keys.Record, error) { return scanKey(r) })
}

// Keys implements keys.Store.
func (s *Store) Keys(ctx context.Context) ([]keys.Record, error) {
	var ring []keys.Record
	err := s.run(ctx, "list keys", func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, `SELECT `+keyColumns+` FROM signing_keys ORDER BY alg, created_at, kid`)
		if err != nil {
			return err
		}
		ring, err = collectKeys(rows)
		return err
	})
	return ring, err
}

// laneLockKey is the transaction advisory lock of a lane: a hash of the
// algorithm, namespaced so that it cannot collide with goose's or another
// application's advisory locks by accident.
func laneLockKey(alg keys.Alg) int64 {
	h := fnv.New64a()
	h.Write([]byte("rotor/keys/lane/"))
	h.Write([]byte(alg))
	return int64(h.Sum64())
}

// UpdateLane implements keys.Store. The lane lock is a transaction-scoped
// advisory lock, so it is released by commit, rollback or a lost connection
// alike. Waiting for it is bounded by lock_timeout, set from ctx's deadline
// (or the call timeout): if it cannot be taken in time UpdateLane returns an
// error matching keys.ErrLaneBusy.
//
// The change is applied as Delete, then Update, then Insert. Records to
// insert must belong to the lane (an empty Alg is taken as the lane's); a
// duplicate KID matches idp.ErrConflict. Updates are matched by KID within
// the lane and change only State and the five times; updating a KID the
// lane does not hold matches idp.ErrNotFound. Deleting a missing KID does
// nothing. The at-most-one-current rule is checked at commit, so the order
// of promotions and demotions within one change does not matter. Any failure
// applies nothing.
func (s *Store) UpdateLane(ctx context.Context, alg keys.Alg, fn func(lane []keys.Record) (keys.Change, error)) error {
	const op = "update key lane"
	return s.inTx(ctx, op, func(ctx context.Context, tx pgx.Tx) error {
		if err := lockLane(ctx, tx, alg); err != nil {
			switch {
			case isLockTimeout(err):
				return newError(op, keys.ErrLaneBusy, err)
			case ctx.Err() != nil:
				// Out of time before lock_timeout fired: the lock may be held
				// or the server slow; which, we cannot tell.
				return newError(op, errLaneBusyOrUnavailable, err)
			}
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+keyColumns+` FROM signing_keys WHERE alg = $1 ORDER BY created_at, kid`, alg)
		if err != nil {
			return err
		}
		lane, err := collectKeys(rows)
		if err != nil {
			return err
		}
		change, err := fn(lane)
		if err != nil {
			return &callerError{err}
		}
		if change.Empty() {
			return nil
		}
		return applyChange(ctx, tx, op, alg, change)
	})
}

// lockLane takes the lane's advisory lock, waiting at most until shortly
// before ctx's deadline so that the wait ends with a clean lock_timeout
// error rather than a broken connection.
func lockLane(ctx context.Context, tx pgx.Tx, alg keys.Alg) error {
	wait := time.Minute
	if deadline, ok := ctx.Deadline(); ok {
		remaining := time.Until(deadline)
		wait = remaining - min(remaining/10, 100*time.Millisecond)
	}
	// lock_timeout 0 would mean "wait forever".
	wait = max(wait, time.Millisecond)
	b := &pgx.Batch{}
	b.Queue(`SELECT set_config('lock_timeout', $1, true)`, fmt.Sprintf("%dms", wait.Milliseconds()))
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, laneLockKey(alg))
	b.Queue(`SELECT set_config('lock_timeout', '0', true)`) // row locks later in the transaction wait as usual
	return tx.SendBatch(ctx, b).Close()
}

// errLaneBusyOrUnavailable matches both keys.ErrLaneBusy and
// idp.ErrUnavailable.
var errLaneBusyOrUnavailable = &kinds{"lane lock not taken in time", []error{keys.ErrLaneBusy, idp.ErrUnavailable}}

type kinds struct {
	msg  string
	errs []error
}

func (k *kinds) Error() string   { return k.msg }
func (k *kinds) Unwrap() []error { return k.errs }

func isLockTimeout(err error) bool {
	pgErr, ok := errors.AsType[*pgconn.PgError](err)
	return ok && pgErr.Code == "55P03" // lock_not_available
}

func applyChange(ctx context.Context, tx pgx.Tx, op string, alg keys.Alg, c keys.Change) error {
	b := &pgx.Batch{}
	if len(c.Delete) > 0 {
		b.Queue(`DELETE FROM signing_keys WHERE alg = $1 AND kid = ANY($2)`, alg, c.Delete)
	}
	for _, r := range c.Update {
		b.Queue(`UPDATE signing_keys
			SET state = $3, created_at = $4, activated_at = $5, retired_at = $6, revoked_at = $7, signable_at = $8
			WHERE kid = $1 AND alg = $2`,
			r.KID, alg, r.State, r.CreatedAt, nullTime(r.ActivatedAt), nullTime(r.RetiredAt), nullTime(r.RevokedAt), nullTime(r.SignableAt),
		).Exec(func(tag pgconn.CommandTag) error {
			if tag.RowsAffected() == 0 {
				return errorf(op, idp.ErrNotFound, "update of a key the lane does not hold")
			}
			return nil
		})
	}
	for _, r := range c.Insert {
		if r.Alg == "" {
			r.Alg = alg
		}
		if r.Alg != alg {
			return errorf(op, nil, "inserted key belongs to lane %q, not %q", r.Alg, alg)
		}
		b.Queue(`INSERT INTO signing_keys (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			r.KID, r.Alg, r.State, emptyIfNil(r.PublicJWK), emptyIfNil(r.Sealed), r.KEKID,
			r.CreatedAt, nullTime(r.ActivatedAt), nullTime(r.RetiredAt), nullTime(r.RevokedAt), nullTime(r.SignableAt))
	}
	// Delivered to listeners at commit, and not at all on rollback.
	b.Queue(`SELECT pg_notify($1, $2)`, KeysChannel, string(alg))
	return tx.SendBatch(ctx, b).Close()
}

// RewrapKeys implements keys.Store in one statement. Watchers are told too:
// reloading costs them little, and a call may come without a change anyway.
func (s *Store) RewrapKeys(ctx context.Context, rewrapped []keys.Record) error {
	if len(rewrapped) == 0 {
		return nil
	}
	kids := make([]string, len(rewrapped))
	sealed := make([][]byte, len(rewrapped))
	kekIDs := make([]string, len(rewrapped))
	for i, r := range rewrapped {
		kids[i], sealed[i], kekIDs[i] = r.KID, emptyIfNil(r.Sealed), r.KEKID
	}
	return s.inTx(ctx, "rewrap keys", func(ctx context.Context, tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`UPDATE signing_keys k SET sealed = v.sealed, kek_id = v.kek_id
			FROM unnest($1::text[], $2::bytea[], $3::text[]) AS v(kid, sealed, kek_id)
			WHERE k.kid = v.kid`, kids, sealed, kekIDs)
		b.Queue(`SELECT pg_notify($1, '')`, KeysChannel)
		return tx.SendBatch(ctx, b).Close()
	})
}
