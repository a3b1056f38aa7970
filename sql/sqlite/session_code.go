package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// CreateSessionCode implements idp.CodeStore in one write transaction: the
// session is read under the database's write lock, which every end of a
// session also takes, and the code is inserted only for an enabled user.
func (s *Store) CreateSessionCode(ctx context.Context, sessionHash []byte, now time.Time, c idp.AuthCode) (idp.Session, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var se idp.Session
	err := s.write(ctx, false, func(tx *sql.Tx) error {
		var err error
		se, err = scanSession(tx.StmtContext(ctx, s.stmts.sessionCode).QueryRowContext(ctx, sessionHash, micros(now)))
		if errors.Is(err, sql.ErrNoRows) {
			return errNoSession
		}
		if err != nil {
			return err
		}
		amr, err := encodeList(se.AMR)
		if err != nil {
			return err
		}
		res, err := tx.StmtContext(ctx, s.stmts.insertCode).ExecContext(ctx,
			c.Hash, c.ClientID, se.UserID, se.ID, c.RedirectURI, c.CodeChallenge, c.Scope, c.Nonce,
			micros(se.AuthTime), amr, micros(c.CreatedAt), micros(c.ExpiresAt))
		if isForeignKey(err) {
			return fmt.Errorf("sqlite: create authorization code in a session: no client %q: %w", c.ClientID, idp.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = fmt.Errorf("sqlite: create authorization code in a session: no enabled user %q: %w", se.UserID, idp.ErrNotFound)
			}
			return err
		}
		return nil
	})
	if err != nil {
		return idp.Session{}, s.mapErr(ctx, "create authorization code in a session", err)
	}
	return se, nil
}
