package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// errNoCode is the one not-found answer for codes; it names no hash.
var errNoCode = fmt.Errorf("sqlite: no such authorization code: %w", idp.ErrNotFound)

// insertCodeSQL inserts a code if its user is enabled.
const insertCodeSQL = `
INSERT INTO auth_codes (hash, client_id, user_id, session_id, redirect_uri, code_challenge, scope, nonce, auth_time, amr, created_at, expires_at)
SELECT ?1, ?2, id, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12 FROM users WHERE id = ?3 AND NOT disabled`

const codeColumns = `hash, client_id, user_id, session_id, redirect_uri, code_challenge, scope, nonce, ` +
	`auth_time, amr, created_at, expires_at, redeemed_at, revoked_at, revoke_reason`

func scanCode(row scanner) (idp.AuthCode, error) {
	var (
		c                      idp.AuthCode
		amr                    string
		auth, created, expires int64
		redeemed, revoked      sql.NullInt64
	)
	err := row.Scan(&c.Hash, &c.ClientID, &c.UserID, &c.SessionID, &c.RedirectURI, &c.CodeChallenge, &c.Scope, &c.Nonce,
		&auth, &amr, &created, &expires, &redeemed, &revoked, &c.RevokeReason)
	if err != nil {
		return idp.AuthCode{}, err
	}
	if c.AMR, err = decodeList("auth_codes.amr", amr); err != nil {
		return idp.AuthCode{}, err
	}
	c.AuthTime, c.CreatedAt, c.ExpiresAt = fromMicros(auth), fromMicros(created), fromMicros(expires)
	c.RedeemedAt, c.RevokedAt = fromNullMicros(redeemed), fromNullMicros(revoked)
	return c, nil
}

// CreateCode stores a new authorization code of an enabled user.
func (s *Store) CreateCode(ctx context.Context, c idp.AuthCode) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	amr, err := encodeList(c.AMR)
	if err != nil {
		return fmt.Errorf("sqlite: create authorization code: %w", err)
	}
	err = s.write(ctx, false, func(tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.stmts.insertCode).ExecContext(ctx,
			c.Hash, c.ClientID, c.UserID, c.SessionID, c.RedirectURI, c.CodeChallenge, c.Scope, c.Nonce,
			micros(c.AuthTime), amr, micros(c.CreatedAt), micros(c.ExpiresAt))
		if isForeignKey(err) {
			return fmt.Errorf("sqlite: create authorization code: no client %q: %w", c.ClientID, idp.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = fmt.Errorf("sqlite: create authorization code: no enabled user %q: %w", c.UserID, idp.ErrNotFound)
			}
			return err
		}
		return nil
	})
	return s.mapErr(ctx, "create authorization code", err)
}

// RedeemCode reads and redeems the code in one write transaction: the write
// lock, taken before the read, makes it single use.
func (s *Store) RedeemCode(ctx context.Context, hash []byte, clientID string, now time.Time) (idp.AuthCode, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var (
		c    idp.AuthCode
		kind error
	)
	err := s.write(ctx, false, func(tx *sql.Tx) error {
		var err error
		kind = nil
		c, err = scanCode(tx.StmtContext(ctx, s.stmts.codeByHash).QueryRowContext(ctx, hash, clientID))
		if errors.Is(err, sql.ErrNoRows) {
			return errNoCode // unknown, or another client's
		}
		if err != nil {
			return err
		}
		switch {
		case !c.RedeemedAt.IsZero():
			kind = idp.ErrCodeReused
			return revokeReplayed(ctx, tx, &c, now)
		case !c.RevokedAt.IsZero():
			kind = idp.ErrRevoked
			return nil
		case micros(now) >= micros(c.ExpiresAt):
			kind = idp.ErrCodeExpired
			return nil
		}
		c.RedeemedAt = fromMicros(micros(now))
		_, err = tx.StmtContext(ctx, s.stmts.redeemCode).ExecContext(ctx, micros(now), hash)
		return err
	})
	switch {
	case err != nil:
		return idp.AuthCode{}, s.mapErr(ctx, "redeem authorization code", err)
	case kind == idp.ErrCodeReused:
		return c, fmt.Errorf("sqlite: redeem authorization code: %w", kind)
	case kind != nil:
		return idp.AuthCode{}, fmt.Errorf("sqlite: redeem authorization code: %w", kind)
	}
	return c, nil
}

// revokeReplayed revokes a replayed code and every family issued from it
// (RFC 6749 §4.1.2), keeping earlier revocations, and updates c to match.
func revokeReplayed(ctx context.Context, tx *sql.Tx, c *idp.AuthCode, at time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE auth_codes SET revoked_at = ?, revoke_reason = ? WHERE hash = ? AND revoked_at IS NULL`,
		micros(at), idp.ReasonCodeReuse, c.Hash); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE refresh_families SET revoked_at = ?, revoke_reason = ? WHERE code_hash = ? AND revoked_at IS NULL`,
		micros(at), idp.ReasonCodeReuse, c.Hash); err != nil {
		return err
	}
	if c.RevokedAt.IsZero() {
		c.RevokedAt, c.RevokeReason = fromMicros(micros(at)), idp.ReasonCodeReuse
	}
	return nil
}

// PurgeCodes deletes the codes that expired before cutoff, in short
// transactions (see purge).
func (s *Store) PurgeCodes(ctx context.Context, cutoff time.Time) (int, error) {
	return s.purge(ctx, "purge authorization codes", "auth_codes", "expires_at", cutoff)
}
