package postgres

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rotor-idp/rotor/idp"
)

const consentColumns = `user_id, client_id, scopes, granted_at`

func scanConsent(row pgx.Row) (idp.Consent, error) {
	var (
		c       idp.Consent
		granted pgtype.Timestamptz
	)
	err := row.Scan(&c.UserID, &c.ClientID, &c.Scopes, &granted)
	c.Scopes, c.GrantedAt = nilIfEmpty(c.Scopes), fromNull(granted)
	return c, err
}

// GrantConsent implements idp.ConsentStore with one upsert: the union is
// computed by the database under the row lock the conflict takes, so two
// concurrent grants each see the other's scopes.
func (s *Store) GrantConsent(ctx context.Context, userID, clientID string, scopes []string, at time.Time) (idp.Consent, error) {
	const op = "grant consent"
	scopes = slices.Compact(slices.Sorted(slices.Values(scopes)))
	var c idp.Consent
	err := s.run(ctx, op, func(ctx context.Context) error {
		var err error
		c, err = scanConsent(s.pool.QueryRow(ctx,
			`INSERT INTO consents (user_id, client_id, scopes, granted_at) VALUES ($1, $2, $3, $4)
			 ON CONFLICT (user_id, client_id) DO UPDATE SET
			     scopes = ARRAY(SELECT DISTINCT sc COLLATE "C" FROM unnest(consents.scopes || EXCLUDED.scopes) AS u(sc) ORDER BY 1),
			     granted_at = EXCLUDED.granted_at
			 RETURNING `+consentColumns, userID, clientID, emptyIfNil(scopes), at))
		if isForeignKey(err) {
			return newError(op, idp.ErrNotFound, errors.New("no such user or client"))
		}
		return err
	})
	return c, err
}

// Consent implements idp.ConsentStore.
func (s *Store) Consent(ctx context.Context, userID, clientID string) (idp.Consent, error) {
	var c idp.Consent
	err := s.run(ctx, "look up consent", func(ctx context.Context) error {
		var err error
		c, err = scanConsent(s.pool.QueryRow(ctx,
			`SELECT `+consentColumns+` FROM consents WHERE user_id = $1 AND client_id = $2`, userID, clientID))
		return err
	})
	return c, err
}

// Consents implements idp.ConsentStore.
func (s *Store) Consents(ctx context.Context, userID string) ([]idp.Consent, error) {
	var cs []idp.Consent
	err := s.run(ctx, "list consents", func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx,
			`SELECT `+consentColumns+` FROM consents WHERE user_id = $1 ORDER BY client_id COLLATE "C"`, userID)
		if err != nil {
			return err
		}
		cs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (idp.Consent, error) { return scanConsent(r) })
		return err
	})
	return cs, err
}

// RevokeConsent implements idp.ConsentStore. Codes are revoked before
// families, the lock order of every transaction here.
func (s *Store) RevokeConsent(ctx context.Context, userID, clientID string, at time.Time) error {
	return s.inTx(ctx, "revoke consent", func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM consents WHERE user_id = $1 AND client_id = $2`, userID, clientID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		b := &pgx.Batch{}
		b.Queue(`UPDATE auth_codes SET revoked_at = $3, revoke_reason = $4
			 WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL`, userID, clientID, at, idp.ReasonConsentRevoked)
		b.Queue(`UPDATE refresh_families SET revoked_at = $3, revoke_reason = $4
			 WHERE subject = $1 AND client_id = $2 AND revoked_at IS NULL`, userID, clientID, at, idp.ReasonConsentRevoked)
		return tx.SendBatch(ctx, b).Close()
	})
}
