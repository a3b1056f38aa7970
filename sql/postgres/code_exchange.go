package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rotor-idp/rotor/idp"
)

// ExchangeCode implements idp.CodeStore in two round trips when the code is
// good: BEGIN and the redeeming UPDATE (whose WHERE clause is the whole
// single-use rule, as in RedeemCode) go in one pipeline; the family's
// INSERT and COMMIT in another. A code the UPDATE does not match is read
// again under a row lock to find out why, and a replay is revoked in the same
// transaction. The family is inserted while the redemption holds the code's
// row lock, so a replay or any other revocation of the code, which updates
// that row, waits for the commit and then revokes the family too.
//
// Without decide the common case is one statement, the redeeming UPDATE on
// its own; only a code it does not match takes the transaction.
func (s *Store) ExchangeCode(ctx context.Context, hash []byte, clientID string, now time.Time, decide func(idp.AuthCode) (idp.CodeExchange, error)) (idp.AuthCode, error) {
	const op = "exchange authorization code"
	var (
		c       idp.AuthCode
		kind    error
		refused error
	)
	if decide == nil {
		found := false
		err := s.run(ctx, op, func(ctx context.Context) error {
			var err error
			c, err = scanCode(s.pool.QueryRow(ctx, redeemSQL, hash, clientID, now))
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			found = err == nil
			return err
		})
		if err != nil || found {
			return c, err
		}
		decide = func(idp.AuthCode) (idp.CodeExchange, error) { return idp.CodeExchange{}, nil }
	}
	err := s.run(ctx, op, func(ctx context.Context) error {
		pc, err := s.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		// Release destroys a connection left inside a transaction.
		defer pc.Release()
		conn := pc.Conn()
		c, kind, refused, err = exchangeCode(ctx, conn, op, hash, clientID, now, decide)
		if err != nil && conn.PgConn().TxStatus() != 'I' {
			_, _ = conn.Exec(ctx, "rollback")
		}
		return err
	})
	switch {
	case err != nil:
		return idp.AuthCode{}, err
	case kind == idp.ErrCodeReused:
		return c, newError(op, kind, nil)
	case kind != nil:
		return idp.AuthCode{}, newError(op, kind, nil)
	}
	return c, refused
}

// redeemSQL redeems a code: its WHERE clause is the whole single-use rule.
const redeemSQL = `UPDATE auth_codes SET redeemed_at = $3
	WHERE hash = $1 AND client_id = $2 AND redeemed_at IS NULL AND revoked_at IS NULL AND expires_at > $3
	RETURNING ` + codeColumns

func exchangeCode(ctx context.Context, conn *pgx.Conn, op string, hash []byte, clientID string, now time.Time,
	decide func(idp.AuthCode) (idp.CodeExchange, error)) (c idp.AuthCode, kind, refused error, err error) {
	found := false
	b := &pgx.Batch{}
	b.Queue("begin")
	b.Queue(redeemSQL, hash, clientID, now).QueryRow(func(row pgx.Row) error {
		var err error
		c, err = scanCode(row)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		found = err == nil
		return err
	})
	if err = conn.SendBatch(ctx, b).Close(); err != nil {
		return c, nil, nil, err
	}
	b = &pgx.Batch{}
	if !found {
		if kind, err = whyNotRedeemed(ctx, conn, b, &c, hash, clientID, now); err != nil || kind != idp.ErrCodeReused {
			// Nothing to keep: the transaction is rolled back.
			if err == nil {
				_, err = conn.Exec(ctx, "rollback")
			}
			return c, kind, nil, err
		}
	} else {
		var ex idp.CodeExchange
		if ex, refused = decide(c); refused == nil && ex.Family != nil {
			if err := queueCodeFamily(b, op, c, ex); err != nil {
				return c, nil, nil, err
			}
		}
	}
	var commit pgconn.CommandTag
	b.Queue("commit").Exec(func(ct pgconn.CommandTag) error { commit = ct; return nil })
	if err = conn.SendBatch(ctx, b).Close(); err != nil {
		if isForeignKey(err) {
			err = newError(op, idp.ErrNotFound, errors.New("no such client"))
		}
		return c, nil, nil, err
	}
	if commit.String() != "COMMIT" {
		return c, nil, nil, errorf(op, nil, "commit answered %q", commit.String())
	}
	return c, kind, refused, nil
}

// whyNotRedeemed reads a code the redeeming UPDATE did not match, under a
// row lock, and says why: not found (another client's, or none), reused,
// revoked or expired. For a replay it queues on b the revocation of the code
// and its families (RFC 6749 §4.1.2), for the caller to commit.
func whyNotRedeemed(ctx context.Context, conn *pgx.Conn, b *pgx.Batch, c *idp.AuthCode, hash []byte, clientID string, now time.Time) (error, error) {
	var err error
	*c, err = scanCode(conn.QueryRow(ctx,
		`SELECT `+codeColumns+` FROM auth_codes WHERE hash = $1 AND client_id = $2 FOR UPDATE`, hash, clientID))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return idp.ErrNotFound, nil
	case err != nil:
		return nil, err
	case !c.RedeemedAt.IsZero():
		b.Queue(`UPDATE auth_codes SET revoked_at = $2, revoke_reason = $3 WHERE hash = $1 AND revoked_at IS NULL`,
			c.Hash, now, idp.ReasonCodeReuse)
		b.Queue(`UPDATE refresh_families SET revoked_at = $2, revoke_reason = $3 WHERE code_hash = $1 AND revoked_at IS NULL`,
			c.Hash, now, idp.ReasonCodeReuse)
		if c.RevokedAt.IsZero() {
			c.RevokedAt, c.RevokeReason = now.Truncate(time.Microsecond).UTC(), idp.ReasonCodeReuse
		}
		return idp.ErrCodeReused, nil
	case !c.RevokedAt.IsZero():
		return idp.ErrRevoked, nil
	}
	return idp.ErrCodeExpired, nil
}

// queueCodeFamily queues the insert of the exchange's family and its first
// token, in one statement, tied to the code.
func queueCodeFamily(b *pgx.Batch, op string, c idp.AuthCode, ex idp.CodeExchange) error {
	f := *ex.Family
	if ex.First == nil {
		return errorf(op, nil, "a family needs its first token")
	}
	first := *ex.First
	if first.FamilyID != "" && first.FamilyID != f.ID {
		return errorf(op, nil, "first token names another family")
	}
	b.Queue(`WITH f AS (
		   INSERT INTO refresh_families
		     (id, client_id, subject, scope, auth_time, created_at, expires_at, revoked_at, revoke_reason, session_id, code_hash, jkt)
		   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $15)
		   RETURNING id)
		 INSERT INTO refresh_tokens (hash, family_id, issued_at, spent_at)
		 SELECT $12, f.id, $13, $14 FROM f`,
		f.ID, c.ClientID, c.UserID, f.Scope, f.AuthTime, f.CreatedAt, f.ExpiresAt, nullTime(f.RevokedAt), f.RevokeReason,
		c.SessionID, c.Hash, first.Hash, first.IssuedAt, nullTime(first.SpentAt), f.JKT)
	return nil
}
