package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rotor-idp/rotor/idp"
)

const sessionColumns = `id, hash, user_id, auth_time, amr, created_at, last_seen_at, idle_expires_at, expires_at`

func scanSession(row pgx.Row) (idp.Session, error) {
	var (
		s                                   idp.Session
		auth, created, seen, idle, absolute pgtype.Timestamptz
	)
	err := row.Scan(&s.ID, &s.Hash, &s.UserID, &auth, &s.AMR, &created, &seen, &idle, &absolute)
	s.AMR = nilIfEmpty(s.AMR)
	s.AuthTime, s.CreatedAt, s.LastSeenAt = fromNull(auth), fromNull(created), fromNull(seen)
	s.IdleExpiresAt, s.ExpiresAt = fromNull(idle), fromNull(absolute)
	return s, err
}

// enabledUser is a CTE that share-locks the row of user $1 if it exists
// and is enabled. Disabling a user and changing a password update that row,
// so they wait for an insert that holds the lock, and their cleanup, a later
// statement, sees the new row; or they commit first, and the insert finds no
// enabled user.
const enabledUser = `WITH u AS (SELECT id FROM users WHERE id = $1 AND NOT disabled FOR SHARE) `

// currentUser is enabledUser also requiring credential version $10, the
// one the sign-in's password check read.
const currentUser = `WITH u AS (SELECT id FROM users WHERE id = $1 AND NOT disabled AND credential_version = $10 FOR SHARE) `

// CreateSession implements idp.SessionStore in one statement.
func (s *Store) CreateSession(ctx context.Context, se idp.Session) error {
	const op = "create browser session"
	return s.run(ctx, op, func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, currentUser+
			`INSERT INTO browser_sessions (`+sessionColumns+`)
			 SELECT $2, $3, u.id, $4, $5, $6, $7, $8, $9 FROM u`,
			se.UserID, se.ID, se.Hash, se.AuthTime, emptyIfNil(se.AMR), se.CreatedAt, se.LastSeenAt, se.IdleExpiresAt, se.ExpiresAt,
			se.CredentialVersion)
		if err == nil && tag.RowsAffected() == 0 {
			return newError(op, idp.ErrNotFound, errors.New("no such enabled user at this credential version"))
		}
		return err
	})
}

// SessionByHash implements idp.SessionStore with one plain SELECT.
func (s *Store) SessionByHash(ctx context.Context, hash []byte, now time.Time) (idp.Session, error) {
	var se idp.Session
	err := s.run(ctx, "look up browser session", func(ctx context.Context) error {
		var err error
		se, err = scanSession(s.pool.QueryRow(ctx,
			`SELECT `+sessionColumns+` FROM browser_sessions
			 WHERE hash = $1 AND idle_expires_at > $2 AND expires_at > $2`, hash, now))
		return err
	})
	return se, err
}

// TouchSession implements idp.SessionStore in one UPDATE.
func (s *Store) TouchSession(ctx context.Context, id string, now, idleExpiresAt time.Time) error {
	return s.run(ctx, "touch browser session", func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx,
			`UPDATE browser_sessions
			 SET last_seen_at = GREATEST(last_seen_at, $2),
			     idle_expires_at = GREATEST(idle_expires_at, LEAST($3, expires_at))
			 WHERE id = $1 AND idle_expires_at > $2 AND expires_at > $2`,
			id, now, idleExpiresAt)
		if err == nil && tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		return err
	})
}

// EndSession implements idp.SessionStore.
func (s *Store) EndSession(ctx context.Context, id, reason string, at time.Time) error {
	return s.inTx(ctx, "end browser session", func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM browser_sessions WHERE id = $1`, id); err != nil {
			return err
		}
		return revokeSessions(ctx, tx, []string{id}, reason, at)
	})
}

// EndUserSessions implements idp.SessionStore.
func (s *Store) EndUserSessions(ctx context.Context, userID, reason string, at time.Time) (int, error) {
	var n int
	err := s.inTx(ctx, "end user's browser sessions", func(ctx context.Context, tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `DELETE FROM browser_sessions WHERE user_id = $1 RETURNING id`, userID)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		n = len(ids)
		return revokeSessions(ctx, tx, ids, reason, at)
	})
	return n, err
}

// revokeSessions revokes the live codes and families created in the
// sessions named by ids, codes first (the lock order of every transaction
// here). "session_id <> ”" lets the partial indexes serve the updates.
func revokeSessions(ctx context.Context, tx pgx.Tx, ids []string, reason string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE auth_codes SET revoked_at = $2, revoke_reason = $3
		 WHERE session_id = ANY($1) AND session_id <> '' AND revoked_at IS NULL`, ids, at, reason)
	b.Queue(`UPDATE refresh_families SET revoked_at = $2, revoke_reason = $3
		 WHERE session_id = ANY($1) AND session_id <> '' AND revoked_at IS NULL`, ids, at, reason)
	return tx.SendBatch(ctx, b).Close()
}

// PurgeSessions implements idp.SessionStore in short batches, by one
// replica at a time (see purge).
func (s *Store) PurgeSessions(ctx context.Context, cutoff time.Time) (int, error) {
	return s.purge(ctx, purgeSessions, cutoff)
}
