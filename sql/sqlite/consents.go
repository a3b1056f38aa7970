package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

const consentColumns = `user_id, client_id, scopes, granted_at`

func scanConsent(row scanner) (idp.Consent, error) {
	var (
		c       idp.Consent
		scopes  string
		granted int64
	)
	if err := row.Scan(&c.UserID, &c.ClientID, &scopes, &granted); err != nil {
		return idp.Consent{}, err
	}
	var err error
	if c.Scopes, err = decodeList("consents.scopes", scopes); err != nil {
		return idp.Consent{}, err
	}
	c.GrantedAt = fromMicros(granted)
	return c, nil
}

// GrantConsent adds scopes to the user's consent for the client: the read
// and the write share one write transaction, so concurrent grants take
// turns and the union loses nothing.
func (s *Store) GrantConsent(ctx context.Context, userID, clientID string, scopes []string, at time.Time) (idp.Consent, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var c idp.Consent
	err := s.write(ctx, true, func(tx *sql.Tx) error {
		old, err := scanConsent(tx.QueryRowContext(ctx, `SELECT `+consentColumns+` FROM consents WHERE user_id = ? AND client_id = ?`, userID, clientID))
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		union := slices.Compact(slices.Sorted(slices.Values(slices.Concat(old.Scopes, scopes))))
		list, err := encodeList(union)
		if err != nil {
			return err
		}
		c, err = scanConsent(tx.QueryRowContext(ctx, `
INSERT INTO consents (user_id, client_id, scopes, granted_at) VALUES (?, ?, ?, ?)
ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at
RETURNING `+consentColumns, userID, clientID, list, micros(at)))
		if isForeignKey(err) {
			return fmt.Errorf("sqlite: grant consent: no user %q or client %q: %w", userID, clientID, idp.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return idp.Consent{}, s.mapErr(ctx, "grant consent", err)
	}
	return c, nil
}

// Consent returns the user's consent for the client; ErrNotFound if none.
func (s *Store) Consent(ctx context.Context, userID, clientID string) (idp.Consent, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var c idp.Consent
	err := s.retry(ctx, func() error {
		var err error
		c, err = scanConsent(s.r.QueryRowContext(ctx, `SELECT `+consentColumns+` FROM consents WHERE user_id = ? AND client_id = ?`, userID, clientID))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return idp.Consent{}, fmt.Errorf("sqlite: no consent of user %q for client %q: %w", userID, clientID, idp.ErrNotFound)
	}
	if err != nil {
		return idp.Consent{}, s.mapErr(ctx, "read consent", err)
	}
	return c, nil
}

// Consents returns the user's consents, ordered by client ID (byte order).
func (s *Store) Consents(ctx context.Context, userID string) ([]idp.Consent, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var cs []idp.Consent
	err := s.retry(ctx, func() error {
		cs = nil
		rows, err := s.r.QueryContext(ctx, `SELECT `+consentColumns+` FROM consents WHERE user_id = ? ORDER BY client_id`, userID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanConsent(rows)
			if err != nil {
				return err
			}
			cs = append(cs, c)
		}
		return rows.Err()
	})
	return cs, s.mapErr(ctx, "list consents", err)
}

// RevokeConsent deletes the consent and revokes the user's codes and
// families of the client, in one transaction.
func (s *Store) RevokeConsent(ctx context.Context, userID, clientID string, at time.Time) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	err := s.write(ctx, true, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM consents WHERE user_id = ? AND client_id = ?`, userID, clientID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = fmt.Errorf("sqlite: no consent of user %q for client %q: %w", userID, clientID, idp.ErrNotFound)
			}
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE auth_codes SET revoked_at = ?, revoke_reason = ?
WHERE user_id = ? AND client_id = ? AND revoked_at IS NULL`, micros(at), idp.ReasonConsentRevoked, userID, clientID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE refresh_families SET revoked_at = ?, revoke_reason = ?
WHERE subject = ? AND client_id = ? AND revoked_at IS NULL`, micros(at), idp.ReasonConsentRevoked, userID, clientID)
		return err
	})
	return s.mapErr(ctx, "revoke consent", err)
}
