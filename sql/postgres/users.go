package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rotor-idp/rotor/idp"
)

// Revocation reasons recorded on the families of a user whose credentials
// changed.
const (
	ReasonUserDisabled    = "user_disabled"
	ReasonPasswordChanged = "password_changed"
)

const userColumns = `id, name, password_hash, disabled, created_at, updated_at, email, email_verified, display_name, credential_version`

func scanUser(row pgx.Row) (idp.User, error) {
	var u idp.User
	var created, updated pgtype.Timestamptz
	err := row.Scan(&u.ID, &u.Name, &u.PasswordHash, &u.Disabled, &created, &updated, &u.Email, &u.EmailVerified, &u.DisplayName, &u.CredentialVersion)
	u.CreatedAt, u.UpdatedAt = fromNull(created), fromNull(updated)
	return u, err
}

// CreateUser implements idp.UserStore.
func (s *Store) CreateUser(ctx context.Context, u idp.User) error {
	return s.run(ctx, "create user", func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx,
			`INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			u.ID, u.Name, u.PasswordHash, u.Disabled, u.CreatedAt, u.UpdatedAt, u.Email, u.EmailVerified, u.DisplayName, u.CredentialVersion)
		return err
	})
}

// UserByName implements idp.UserStore.
func (s *Store) UserByName(ctx context.Context, name string) (idp.User, error) {
	var u idp.User
	err := s.run(ctx, "user by name", func(ctx context.Context) error {
		var err error
		u, err = scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE name = $1`, name))
		return err
	})
	return u, err
}

// UserByID implements idp.UserStore.
func (s *Store) UserByID(ctx context.Context, id string) (idp.User, error) {
	var u idp.User
	err := s.run(ctx, "user by id", func(ctx context.Context) error {
		var err error
		u, err = scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
		return err
	})
	return u, err
}

// UpdateProfile implements idp.UserStore: the row is locked while p.Apply
// decides, so concurrent updates apply one after the other.
func (s *Store) UpdateProfile(ctx context.Context, name string, p idp.ProfileUpdate, at time.Time) (idp.User, error) {
	var u idp.User
	err := s.inTx(ctx, "update profile", func(ctx context.Context, tx pgx.Tx) error {
		cur, err := scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE name = $1 FOR UPDATE`, name))
		if err != nil {
			return err
		}
		next := p.Apply(cur)
		u, err = scanUser(tx.QueryRow(ctx,
			`UPDATE users SET email = $2, email_verified = $3, display_name = $4, updated_at = $5 WHERE id = $1
			 RETURNING `+userColumns,
			cur.ID, next.Email, next.EmailVerified, next.DisplayName, at))
		return err
	})
	return u, err
}

// Users implements idp.UserStore. Names are ordered byte-wise (COLLATE "C"),
// whatever the database's collation, so the order is the same everywhere.
func (s *Store) Users(ctx context.Context) ([]idp.User, error) {
	var users []idp.User
	err := s.run(ctx, "list users", func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY name COLLATE "C"`)
		if err != nil {
			return err
		}
		users, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (idp.User, error) { return scanUser(r) })
		return err
	})
	return users, err
}

// SetUserDisabled implements idp.UserStore. Disabling ends the user's
// sessions and revokes the user's live codes and families with
// ReasonUserDisabled; enabling revokes nothing and restores nothing.
func (s *Store) SetUserDisabled(ctx context.Context, name string, disabled bool, at time.Time) error {
	return s.inTx(ctx, "set user disabled", func(ctx context.Context, tx pgx.Tx) error {
		var id string
		err := tx.QueryRow(ctx,
			`UPDATE users SET disabled = $2, updated_at = $3, credential_version = credential_version + 1
			 WHERE name = $1 RETURNING id`,
			name, disabled, at).Scan(&id)
		if err != nil || !disabled {
			return err
		}
		return revokeSubject(ctx, tx, id, ReasonUserDisabled, at)
	})
}

// SetPassword implements idp.UserStore. It ends the user's sessions and
// revokes the user's live codes and families with ReasonPasswordChanged.
func (s *Store) SetPassword(ctx context.Context, name, hash string, at time.Time) error {
	return s.inTx(ctx, "set password", func(ctx context.Context, tx pgx.Tx) error {
		var id string
		err := tx.QueryRow(ctx,
			`UPDATE users SET password_hash = $2, updated_at = $3, credential_version = credential_version + 1
			 WHERE name = $1 RETURNING id`,
			name, hash, at).Scan(&id)
		if err != nil {
			return err
		}
		return revokeSubject(ctx, tx, id, ReasonPasswordChanged, at)
	})
}

// revokeSubject ends the subject's browser sessions and revokes the
// subject's authorization codes and refresh-token families that are still
// live; revoked ones keep the time and reason of their first revocation.
// Codes go before families, the order every transaction here takes their
// locks in.
func revokeSubject(ctx context.Context, tx pgx.Tx, subject, reason string, at time.Time) error {
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM browser_sessions WHERE user_id = $1`, subject)
	b.Queue(`UPDATE auth_codes SET revoked_at = $2, revoke_reason = $3
		 WHERE user_id = $1 AND revoked_at IS NULL`, subject, at, reason)
	b.Queue(`UPDATE refresh_families SET revoked_at = $2, revoke_reason = $3
		 WHERE subject = $1 AND revoked_at IS NULL`, subject, at, reason)
	return tx.SendBatch(ctx, b).Close()
}

// RehashPassword implements idp.UserStore. The comparison and the write are
// one statement: a concurrent SetPassword either commits first, and the
// comparison fails, or waits for the row and overwrites the rehash. An
// unknown id replaces nothing and is not an error.
func (s *Store) RehashPassword(ctx context.Context, id, oldHash, newHash string, at time.Time) (bool, error) {
	var replaced bool
	err := s.run(ctx, "rehash password", func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx,
			`UPDATE users SET password_hash = $3, updated_at = $4 WHERE id = $1 AND password_hash = $2`,
			id, oldHash, newHash, at)
		replaced = tag.RowsAffected() == 1
		return err
	})
	return replaced, err
}
