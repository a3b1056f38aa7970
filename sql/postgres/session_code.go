package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rotor-idp/rotor/idp"
)

// sessionCodeSQL stores a code of a live session in one statement. It takes
// the locks in the order disabling a user does (the user's row, then the
// session's), as shared locks: ending the session deletes its row, so it
// waits for this insert, and its revocation of the session's codes, a later
// statement, sees the new code; or it deleted the row first, and no code is
// stored. $1 session hash, $2 now, $3… the code's own columns.
const sessionCodeSQL = `
WITH u AS (
    SELECT id FROM users
    WHERE id = (SELECT user_id FROM browser_sessions WHERE hash = $1) AND NOT disabled
    FOR SHARE
), se AS (
    SELECT ` + sessionColumns + ` FROM browser_sessions
    WHERE hash = $1 AND idle_expires_at > $2 AND expires_at > $2 AND user_id = (SELECT id FROM u)
    FOR SHARE
), ins AS (
    INSERT INTO auth_codes (hash, client_id, user_id, session_id, redirect_uri, code_challenge, scope, nonce,
                            auth_time, amr, created_at, expires_at)
    SELECT $3, $4, se.user_id, se.id, $5, $6, $7, $8, se.auth_time, se.amr, $9, $10 FROM se
    RETURNING 1
)
SELECT ` + sessionColumns + ` FROM se WHERE EXISTS (SELECT 1 FROM ins)`

// CreateSessionCode implements idp.CodeStore in one statement.
func (s *Store) CreateSessionCode(ctx context.Context, sessionHash []byte, now time.Time, c idp.AuthCode) (idp.Session, error) {
	const op = "create authorization code in a session"
	var se idp.Session
	err := s.run(ctx, op, func(ctx context.Context) error {
		var err error
		se, err = scanSession(s.pool.QueryRow(ctx, sessionCodeSQL, sessionHash, now,
			c.Hash, c.ClientID, c.RedirectURI, c.CodeChallenge, c.Scope, c.Nonce, c.CreatedAt, c.ExpiresAt))
		switch {
		case isForeignKey(err):
			return newError(op, idp.ErrNotFound, errors.New("no such client"))
		case errors.Is(err, pgx.ErrNoRows):
			return newError(op, idp.ErrNotFound, errors.New("no live session of an enabled user has this hash"))
		}
		return err
	})
	return se, err
}
