package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// errNoToken is the one not-found answer for refresh tokens; it names no
// hash, since a hash is as good as the token to whoever can query the store.
var errNoToken = fmt.Errorf("sqlite: no such refresh token: %w", idp.ErrNotFound)

// CreateFamily stores a new family and its first token in one transaction.
// A family from a code is checked against the code in the same write
// transaction (see familyCode); SQLite's one write lock serialises it with
// every revocation of the code.
func (s *Store) CreateFamily(ctx context.Context, f idp.Family, first idp.RefreshToken) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	if first.FamilyID != "" && first.FamilyID != f.ID {
		return errors.New("sqlite: create refresh family: the first token belongs to another family")
	}
	var codeHash any // NULL, not an empty blob, for "not from a code"
	if len(f.CodeHash) > 0 {
		codeHash = f.CodeHash
	}
	err := s.write(ctx, false, func(tx *sql.Tx) error {
		if codeHash != nil {
			if err := familyCode(ctx, tx.StmtContext(ctx, s.stmts.familyCode), f); err != nil {
				return err
			}
		} else if err := familyUser(ctx, tx, f); err != nil {
			return err
		}
		_, err := tx.StmtContext(ctx, s.stmts.insertFamily).ExecContext(ctx,
			f.ID, f.ClientID, f.Subject, f.Scope, micros(f.AuthTime), micros(f.CreatedAt), micros(f.ExpiresAt),
			nullMicros(f.RevokedAt), f.RevokeReason, f.SessionID, codeHash, f.JKT)
		if isForeignKey(err) {
			return fmt.Errorf("sqlite: create refresh family: no client %q: %w", f.ClientID, idp.ErrNotFound)
		}
		if err != nil {
			return err
		}
		return insertToken(ctx, tx.StmtContext(ctx, s.stmts.insertToken), f.ID, first)
	})
	return s.mapErr(ctx, "create refresh family", err)
}

// familyCode checks that the family's code was redeemed by its client and
// has not been revoked.
func familyCode(ctx context.Context, stmt *sql.Stmt, f idp.Family) error {
	var (
		clientID, reason  string
		redeemed, revoked sql.NullInt64
	)
	err := stmt.QueryRowContext(ctx, f.CodeHash).Scan(&clientID, &redeemed, &revoked, &reason)
	switch {
	case errors.Is(err, sql.ErrNoRows) || err == nil && (clientID != f.ClientID || !redeemed.Valid):
		return fmt.Errorf("sqlite: create refresh family: no authorization code redeemed by this client has this hash: %w", idp.ErrNotFound)
	case err != nil:
		return err
	case revoked.Valid && reason == idp.ReasonCodeReuse:
		return fmt.Errorf("sqlite: create refresh family: %w", idp.ErrCodeReused)
	case revoked.Valid:
		return fmt.Errorf("sqlite: create refresh family: the authorization code was %w", idp.ErrRevoked)
	}
	return nil
}

// familyUser checks that a family not from a code is for no user, or for an
// enabled one at the credential version its grant read.
func familyUser(ctx context.Context, tx *sql.Tx, f idp.Family) error {
	var (
		disabled bool
		version  int64
	)
	err := tx.QueryRowContext(ctx, `SELECT disabled, credential_version FROM users WHERE id = ?`, f.Subject).Scan(&disabled, &version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	case disabled || version != f.CredentialVersion:
		return fmt.Errorf("sqlite: create refresh family: the user is disabled or their password changed: %w", idp.ErrRevoked)
	}
	return nil
}

// UseRefresh finds the token, takes the database write lock (which stands
// in for the family lock: SQLite has one lock per database), reads the
// token, its family and its successor, and applies what fn decides in the
// same transaction.
func (s *Store) UseRefresh(ctx context.Context, hash []byte, fn func(idp.RefreshState) (idp.RefreshUpdate, error)) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	// An unknown token is the common case for garbage and guessing; answer
	// it from a reader so that it never queues for the write lock.
	err := s.retry(ctx, func() error {
		var one int
		return s.stmts.tokenExists.QueryRowContext(ctx, hash).Scan(&one)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return errNoToken
	}
	if err != nil {
		return s.mapErr(ctx, "use refresh token", err)
	}

	err = s.write(ctx, false, func(tx *sql.Tx) error {
		st, err := scanState(tx.StmtContext(ctx, s.stmts.refreshStateW).QueryRowContext(ctx, hash))
		if errors.Is(err, sql.ErrNoRows) {
			return errNoToken // purged or its client deleted since the check above
		}
		if err != nil {
			return err
		}
		u, err := fn(st)
		if err != nil {
			return callbackError{err}
		}
		return s.apply(ctx, tx, st, u)
	})
	return s.mapErr(ctx, "use refresh token", err)
}

// apply makes the changes u asks for. Spending and revoking only ever fill
// a time that is still empty, so the first spend and the first revocation
// are the ones kept.
func (s *Store) apply(ctx context.Context, tx *sql.Tx, st idp.RefreshState, u idp.RefreshUpdate) error {
	if !u.SpendToken.IsZero() {
		if err := s.spend(ctx, tx, st.Token.Hash, u.SpendToken); err != nil {
			return err
		}
	}
	if !u.SpendSuccessor.IsZero() {
		if st.Successor == nil {
			return errors.New("sqlite: use refresh token: the update spends a successor the token does not have")
		}
		if err := s.spend(ctx, tx, st.Successor.Hash, u.SpendSuccessor); err != nil {
			return err
		}
	}
	if u.Issue != nil {
		if u.Issue.FamilyID != "" && u.Issue.FamilyID != st.Family.ID {
			return errors.New("sqlite: use refresh token: the update issues a token into another family")
		}
		if err := insertToken(ctx, tx.StmtContext(ctx, s.stmts.insertToken), st.Family.ID, *u.Issue); err != nil {
			return err
		}
		if t := u.Issue; len(t.Parent) > 0 && t.SpentAt.IsZero() {
			if _, err := tx.StmtContext(ctx, s.stmts.linkToken).ExecContext(ctx, t.Hash, t.Parent, st.Family.ID); err != nil {
				return err
			}
		}
	}
	if !u.RevokeAt.IsZero() {
		if _, err := tx.StmtContext(ctx, s.stmts.revokeFamily).ExecContext(ctx, micros(u.RevokeAt), u.RevokeReason, st.Family.ID); err != nil {
			return err
		}
	}
	return nil
}

// spend marks the token spent unless it is, and removes its link to its
// parent, which only an unspent token needs (see refreshStateSQL).
func (s *Store) spend(ctx context.Context, tx *sql.Tx, hash []byte, at time.Time) error {
	if _, err := tx.StmtContext(ctx, s.stmts.spendToken).ExecContext(ctx, micros(at), hash); err != nil {
		return err
	}
	_, err := tx.StmtContext(ctx, s.stmts.unlinkToken).ExecContext(ctx, hash)
	return err
}

// LookupRefresh returns the state of the token, read from one snapshot,
// without locking anything.
func (s *Store) LookupRefresh(ctx context.Context, hash []byte) (idp.RefreshState, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var st idp.RefreshState
	err := s.retry(ctx, func() error {
		var err error
		st, err = scanState(s.stmts.refreshStateR.QueryRowContext(ctx, hash))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return idp.RefreshState{}, errNoToken
	}
	if err != nil {
		return idp.RefreshState{}, s.mapErr(ctx, "look up refresh token", err)
	}
	return st, nil
}

// RevokeFamily revokes the family unless it is revoked already, in which
// case the first revocation's time and reason stay.
func (s *Store) RevokeFamily(ctx context.Context, id, reason string, at time.Time) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	err := s.write(ctx, true, func(tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.stmts.revokeFamily).ExecContext(ctx, micros(at), reason, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM refresh_families WHERE id = ?`, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: no refresh family %q: %w", id, idp.ErrNotFound)
		}
		return err
	})
	return s.mapErr(ctx, "revoke refresh family", err)
}

// PurgeRefresh deletes the families that expired before cutoff, their
// tokens going with them (ON DELETE CASCADE), in short transactions (see
// purge).
func (s *Store) PurgeRefresh(ctx context.Context, cutoff time.Time) (int, error) {
	return s.purge(ctx, "purge refresh families", "refresh_families", "expires_at", cutoff)
}

// insertToken inserts the token's row; its link to its parent, if it needs
// one, is the caller's.
func insertToken(ctx context.Context, stmt *sql.Stmt, familyID string, t idp.RefreshToken) error {
	_, err := stmt.ExecContext(ctx, t.Hash, familyID, micros(t.IssuedAt), nullMicros(t.SpentAt))
	return err
}

func scanState(row scanner) (idp.RefreshState, error) {
	var (
		st                             idp.RefreshState
		f                              = &st.Family
		t                              = &st.Token
		auth, created, expires, issued int64
		revoked, spent                 sql.NullInt64
		sHash, sParent                 []byte
		sIssued, sSpent                sql.NullInt64
	)
	err := row.Scan(&f.ID, &f.ClientID, &f.Subject, &f.Scope, &auth, &created, &expires, &revoked, &f.RevokeReason,
		&f.SessionID, &f.CodeHash, &f.JKT,
		&t.Hash, &issued, &spent,
		&sHash, &sParent, &sIssued, &sSpent, &st.UserDisabled)
	if err != nil {
		return idp.RefreshState{}, err
	}
	f.AuthTime, f.CreatedAt, f.ExpiresAt, f.RevokedAt = fromMicros(auth), fromMicros(created), fromMicros(expires), fromNullMicros(revoked)
	t.FamilyID, t.IssuedAt, t.SpentAt = f.ID, fromMicros(issued), fromNullMicros(spent)
	if sHash != nil {
		st.Successor = &idp.RefreshToken{
			Hash: sHash, FamilyID: f.ID, Parent: sParent,
			IssuedAt: fromMicros(sIssued.Int64), SpentAt: fromNullMicros(sSpent),
		}
	}
	return st, nil
}
