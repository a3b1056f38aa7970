package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// ExchangeCode implements idp.CodeStore in one write transaction: redeem the
// code under the database's write lock (which makes it single use), ask
// decide, and insert the family it wants.
func (s *Store) ExchangeCode(ctx context.Context, hash []byte, clientID string, now time.Time, decide func(idp.AuthCode) (idp.CodeExchange, error)) (idp.AuthCode, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var (
		c       idp.AuthCode
		kind    error // why the code was refused
		refused error // decide's error
	)
	err := s.write(ctx, false, func(tx *sql.Tx) error {
		kind, refused = nil, nil
		// The common case in one statement: the WHERE clause is the whole
		// single-use rule. Anything else is read to find out why.
		var err error
		c, err = scanCode(tx.StmtContext(ctx, s.stmts.exchangeCode).QueryRowContext(ctx, hash, clientID, micros(now)))
		if err == nil {
			if decide == nil {
				return nil
			}
			ex, err := decide(c)
			if err != nil || ex.Family == nil {
				refused = err
				return nil
			}
			return s.insertCodeFamily(ctx, tx, c, ex)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		c, err = scanCode(tx.StmtContext(ctx, s.stmts.codeByHash).QueryRowContext(ctx, hash, clientID))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return errNoCode // unknown, or another client's
		case err != nil:
			return err
		case !c.RedeemedAt.IsZero():
			kind = idp.ErrCodeReused
			return revokeReplayed(ctx, tx, &c, now)
		case !c.RevokedAt.IsZero():
			kind = idp.ErrRevoked
			return nil
		}
		kind = idp.ErrCodeExpired
		return nil
	})
	switch {
	case err != nil:
		return idp.AuthCode{}, s.mapErr(ctx, "exchange authorization code", err)
	case kind == idp.ErrCodeReused:
		return c, fmt.Errorf("sqlite: exchange authorization code: %w", kind)
	case kind != nil:
		return idp.AuthCode{}, fmt.Errorf("sqlite: exchange authorization code: %w", kind)
	}
	return c, refused
}

// insertCodeFamily inserts the family of an exchange, tied to its code.
func (s *Store) insertCodeFamily(ctx context.Context, tx *sql.Tx, c idp.AuthCode, ex idp.CodeExchange) error {
	f := *ex.Family
	f.ClientID, f.Subject, f.SessionID, f.CodeHash = c.ClientID, c.UserID, c.SessionID, c.Hash
	if ex.First == nil {
		return errors.New("sqlite: exchange authorization code: a family needs its first token")
	}
	first := *ex.First
	if first.FamilyID != "" && first.FamilyID != f.ID {
		return errors.New("sqlite: exchange authorization code: the first token belongs to another family")
	}
	_, err := tx.StmtContext(ctx, s.stmts.insertFamily).ExecContext(ctx,
		f.ID, f.ClientID, f.Subject, f.Scope, micros(f.AuthTime), micros(f.CreatedAt), micros(f.ExpiresAt),
		nullMicros(f.RevokedAt), f.RevokeReason, f.SessionID, f.CodeHash, f.JKT)
	if isForeignKey(err) {
		return fmt.Errorf("sqlite: exchange authorization code: no client %q: %w", f.ClientID, idp.ErrNotFound)
	}
	if err != nil {
		return err
	}
	return insertToken(ctx, tx.StmtContext(ctx, s.stmts.insertToken), f.ID, first)
}
