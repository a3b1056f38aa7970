package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// errNoSession is the one not-found answer for sessions; it names no hash.
var errNoSession = fmt.Errorf("sqlite: no such live browser session: %w", idp.ErrNotFound)

const sessionColumns = `id, hash, user_id, auth_time, amr, created_at, last_seen_at, idle_expires_at, expires_at`

func scanSession(row scanner) (idp.Session, error) {
	var (
		se                                  idp.Session
		amr                                 string
		auth, created, seen, idle, absolute int64
	)
	if err := row.Scan(&se.ID, &se.Hash, &se.UserID, &auth, &amr, &created, &seen, &idle, &absolute); err != nil {
		return idp.Session{}, err
	}
	var err error
	if se.AMR, err = decodeList("browser_sessions.amr", amr); err != nil {
		return idp.Session{}, err
	}
	se.AuthTime, se.CreatedAt, se.LastSeenAt = fromMicros(auth), fromMicros(created), fromMicros(seen)
	se.IdleExpiresAt, se.ExpiresAt = fromMicros(idle), fromMicros(absolute)
	return se, nil
}

// CreateSession stores a browser session of an enabled user at the
// session's credential version; the write lock serialises it with
// disabling the user and changing the password.
func (s *Store) CreateSession(ctx context.Context, se idp.Session) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	amr, err := encodeList(se.AMR)
	if err != nil {
		return fmt.Errorf("sqlite: create browser session: %w", err)
	}
	err = s.write(ctx, false, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO browser_sessions (`+sessionColumns+`)
SELECT ?, ?, id, ?, ?, ?, ?, ?, ? FROM users WHERE id = ? AND NOT disabled AND credential_version = ?`,
			se.ID, se.Hash, micros(se.AuthTime), amr, micros(se.CreatedAt), micros(se.LastSeenAt),
			micros(se.IdleExpiresAt), micros(se.ExpiresAt), se.UserID, se.CredentialVersion)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = fmt.Errorf("sqlite: create browser session: no enabled user %q at this credential version: %w", se.UserID, idp.ErrNotFound)
			}
			return err
		}
		return nil
	})
	return s.mapErr(ctx, "create browser session", err)
}

// SessionByHash returns the session if it is live at now, from a reader.
func (s *Store) SessionByHash(ctx context.Context, hash []byte, now time.Time) (idp.Session, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var se idp.Session
	err := s.retry(ctx, func() error {
		var err error
		se, err = scanSession(s.stmts.sessionByHash.QueryRowContext(ctx, hash, micros(now)))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return idp.Session{}, errNoSession
	}
	if err != nil {
		return idp.Session{}, s.mapErr(ctx, "look up browser session", err)
	}
	return se, nil
}

// TouchSession moves a live session's idle expiry on, in one UPDATE.
func (s *Store) TouchSession(ctx context.Context, id string, now, idleExpiresAt time.Time) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	err := s.write(ctx, false, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
UPDATE browser_sessions
SET last_seen_at = max(last_seen_at, ?1),
    idle_expires_at = max(idle_expires_at, min(?2, expires_at))
WHERE id = ?3 AND idle_expires_at > ?1 AND expires_at > ?1`, micros(now), micros(idleExpiresAt), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = errNoSession
			}
			return err
		}
		return nil
	})
	return s.mapErr(ctx, "touch browser session", err)
}

// EndSession deletes the session and revokes its codes and families.
func (s *Store) EndSession(ctx context.Context, id, reason string, at time.Time) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	err := s.write(ctx, true, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM browser_sessions WHERE id = ?`, id); err != nil {
			return err
		}
		return revokeSessions(ctx, tx, `session_id = ?`, id, reason, at)
	})
	return s.mapErr(ctx, "end browser session", err)
}

// EndUserSessions revokes the codes and families of the user's sessions and
// then deletes the sessions.
func (s *Store) EndUserSessions(ctx context.Context, userID, reason string, at time.Time) (int, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var n int64
	err := s.write(ctx, true, func(tx *sql.Tx) error {
		err := revokeSessions(ctx, tx, `session_id IN (SELECT id FROM browser_sessions WHERE user_id = ?)`, userID, reason, at)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM browser_sessions WHERE user_id = ?`, userID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, s.mapErr(ctx, "end user's browser sessions", err)
	}
	return int(n), nil
}

// revokeSessions revokes the live codes and families whose session_id meets
// match, an SQL condition with one parameter, arg. "session_id <> ”" lets
// the partial indexes serve the updates.
func revokeSessions(ctx context.Context, tx *sql.Tx, match string, arg any, reason string, at time.Time) error {
	for _, table := range []string{"auth_codes", "refresh_families"} {
		_, err := tx.ExecContext(ctx, `UPDATE `+table+` SET revoked_at = ?, revoke_reason = ?
WHERE `+match+` AND session_id <> '' AND revoked_at IS NULL`, micros(at), reason, arg)
		if err != nil {
			return err
		}
	}
	return nil
}

// PurgeSessions deletes the sessions that expired before cutoff, in short
// transactions (see purge).
func (s *Store) PurgeSessions(ctx context.Context, cutoff time.Time) (int, error) {
	return s.purge(ctx, "purge browser sessions", "browser_sessions", "idle_expires_at", cutoff)
}
