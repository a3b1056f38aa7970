package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rotor-idp/rotor/idp"
)

const codeColumns = `hash, client_id, user_id, session_id, redirect_uri, code_challenge, scope, nonce, ` +
	`auth_time, amr, created_at, expires_at, redeemed_at, revoked_at, revoke_reason`

func scanCode(row pgx.Row) (idp.AuthCode, error) {
	var (
		c                                         idp.AuthCode
		auth, created, expires, redeemed, revoked pgtype.Timestamptz
	)
	err := row.Scan(&c.Hash, &c.ClientID, &c.UserID, &c.SessionID, &c.RedirectURI, &c.CodeChallenge, &c.Scope, &c.Nonce,
		&auth, &c.AMR, &created, &expires, &redeemed, &revoked, &c.RevokeReason)
	c.AMR = nilIfEmpty(c.AMR)
	c.AuthTime, c.CreatedAt, c.ExpiresAt = fromNull(auth), fromNull(created), fromNull(expires)
	c.RedeemedAt, c.RevokedAt = fromNull(redeemed), fromNull(revoked)
	return c, err
}

// CreateCode implements idp.CodeStore in one statement, under a share lock
// on the user's row (see enabledUser).
func (s *Store) CreateCode(ctx context.Context, c idp.AuthCode) error {
	const op = "create authorization code"
	return s.run(ctx, op, func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, enabledUser+
			`INSERT INTO auth_codes (user_id, hash, client_id, session_id, redirect_uri, code_challenge, scope, nonce,
			                         auth_time, amr, created_at, expires_at)
			 SELECT u.id, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 FROM u`,
			c.UserID, c.Hash, c.ClientID, c.SessionID, c.RedirectURI, c.CodeChallenge, c.Scope, c.Nonce,
			c.AuthTime, emptyIfNil(c.AMR), c.CreatedAt, c.ExpiresAt)
		switch {
		case isForeignKey(err):
			return newError(op, idp.ErrNotFound, errors.New("no such client"))
		case err == nil && tag.RowsAffected() == 0:
			return newError(op, idp.ErrNotFound, errors.New("no such enabled user"))
		}
		return err
	})
}

// RedeemCode implements idp.CodeStore. The common case is one UPDATE whose
// WHERE clause is the whole single-use rule: of concurrent redemptions, the
// first takes the row lock, and the others, once it commits, re-evaluate
// the clause against the redeemed row and update nothing. Those then lock
// the row to find out why, and handle a replay in the same transaction.
func (s *Store) RedeemCode(ctx context.Context, hash []byte, clientID string, now time.Time) (idp.AuthCode, error) {
	const op = "redeem authorization code"
	var (
		c    idp.AuthCode
		kind error
	)
	err := s.inTx(ctx, op, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		kind = nil
		c, err = scanCode(tx.QueryRow(ctx,
			`UPDATE auth_codes SET redeemed_at = $3
			 WHERE hash = $1 AND client_id = $2 AND redeemed_at IS NULL AND revoked_at IS NULL AND expires_at > $3
			 RETURNING `+codeColumns, hash, clientID, now))
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		c, err = scanCode(tx.QueryRow(ctx,
			`SELECT `+codeColumns+` FROM auth_codes WHERE hash = $1 AND client_id = $2 FOR UPDATE`, hash, clientID))
		if err != nil {
			return err // pgx.ErrNoRows: unknown, or another client's
		}
		switch {
		case !c.RedeemedAt.IsZero():
			kind = idp.ErrCodeReused
			return revokeReplayed(ctx, tx, &c, now)
		case !c.RevokedAt.IsZero():
			kind = idp.ErrRevoked
		default:
			kind = idp.ErrCodeExpired
		}
		return nil
	})
	switch {
	case err != nil:
		return idp.AuthCode{}, err
	case kind == idp.ErrCodeReused:
		return c, newError(op, kind, nil)
	case kind != nil:
		return idp.AuthCode{}, newError(op, kind, nil)
	}
	return c, nil
}

// revokeReplayed revokes a replayed code and every family issued from it
// (RFC 6749 §4.1.2), keeping earlier revocations, and updates c to match.
func revokeReplayed(ctx context.Context, tx pgx.Tx, c *idp.AuthCode, at time.Time) error {
	b := &pgx.Batch{}
	b.Queue(`UPDATE auth_codes SET revoked_at = $2, revoke_reason = $3 WHERE hash = $1 AND revoked_at IS NULL`,
		c.Hash, at, idp.ReasonCodeReuse)
	b.Queue(`UPDATE refresh_families SET revoked_at = $2, revoke_reason = $3 WHERE code_hash = $1 AND revoked_at IS NULL`,
		c.Hash, at, idp.ReasonCodeReuse)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	if c.RevokedAt.IsZero() {
		c.RevokedAt, c.RevokeReason = at.Truncate(time.Microsecond).UTC(), idp.ReasonCodeReuse
	}
	return nil
}

// PurgeCodes implements idp.CodeStore in short batches, by one replica at
// a time (see purge).
func (s *Store) PurgeCodes(ctx context.Context, cutoff time.Time) (int, error) {
	return s.purge(ctx, purgeCodes, cutoff)
}
