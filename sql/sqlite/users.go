package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// Revocation reasons recorded when a user's families are revoked.
const (
	reasonUserDisabled    = "user_disabled"
	reasonPasswordChanged = "password_changed"
)

// CreateUser stores u; ErrConflict if its name or ID is taken.
func (s *Store) CreateUser(ctx context.Context, u idp.User) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	err := s.write(ctx, true, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.Name, u.PasswordHash, boolInt(u.Disabled), micros(u.CreatedAt), micros(u.UpdatedAt),
			u.Email, boolInt(u.EmailVerified), u.DisplayName, u.CredentialVersion)
		return err
	})
	return s.mapErr(ctx, "create user", err)
}

// UserByName returns the user named name; ErrNotFound if none.
func (s *Store) UserByName(ctx context.Context, name string) (idp.User, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var u idp.User
	err := s.retry(ctx, func() error {
		var err error
		u, err = scanUser(s.stmts.userByName.QueryRowContext(ctx, name))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return idp.User{}, fmt.Errorf("sqlite: no user named %q: %w", name, idp.ErrNotFound)
	}
	return u, s.mapErr(ctx, "read user", err)
}

// UserByID returns the user whose ID is id; ErrNotFound if none.
func (s *Store) UserByID(ctx context.Context, id string) (idp.User, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var u idp.User
	err := s.retry(ctx, func() error {
		var err error
		u, err = scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return idp.User{}, fmt.Errorf("sqlite: no user with id %q: %w", id, idp.ErrNotFound)
	}
	return u, s.mapErr(ctx, "read user", err)
}

// UpdateProfile applies p to the user named name in one write transaction
// (read, p.Apply, write) and returns the user as stored.
func (s *Store) UpdateProfile(ctx context.Context, name string, p idp.ProfileUpdate, at time.Time) (idp.User, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var u idp.User
	err := s.write(ctx, true, func(tx *sql.Tx) error {
		cur, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, name))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: no user named %q: %w", name, idp.ErrNotFound)
		}
		if err != nil {
			return err
		}
		next := p.Apply(cur)
		u, err = scanUser(tx.QueryRowContext(ctx,
			`UPDATE users SET email = ?, email_verified = ?, display_name = ?, updated_at = ? WHERE id = ? RETURNING `+userColumns,
			next.Email, boolInt(next.EmailVerified), next.DisplayName, micros(at), cur.ID))
		return err
	})
	if err != nil {
		return idp.User{}, s.mapErr(ctx, "update profile", err)
	}
	return u, nil
}

// Users returns every user, ordered by name (byte order).
func (s *Store) Users(ctx context.Context) ([]idp.User, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var users []idp.User
	err := s.retry(ctx, func() error {
		users = nil
		rows, err := s.r.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			u, err := scanUser(rows)
			if err != nil {
				return err
			}
			users = append(users, u)
		}
		return rows.Err()
	})
	return users, s.mapErr(ctx, "list users", err)
}

// SetUserDisabled sets the user's Disabled flag; disabling also ends the
// user's browser sessions and revokes the user's live codes and refresh-token
// families in the same transaction (those revoked earlier keep their time and
// reason; enabling revives none).
func (s *Store) SetUserDisabled(ctx context.Context, name string, disabled bool, at time.Time) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	err := s.write(ctx, true, func(tx *sql.Tx) error {
		id, err := updateUser(ctx, tx, name, `credential_version = credential_version + 1, disabled = ?`, boolInt(disabled), at)
		if err != nil || !disabled {
			return err
		}
		return revokeSubject(ctx, tx, id, reasonUserDisabled, at)
	})
	return s.mapErr(ctx, "set user disabled", err)
}

// SetPassword replaces the user's password hash, ends the user's browser
// sessions and revokes the user's live codes and refresh-token families, in
// one transaction.
func (s *Store) SetPassword(ctx context.Context, name, hash string, at time.Time) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	err := s.write(ctx, true, func(tx *sql.Tx) error {
		id, err := updateUser(ctx, tx, name, `credential_version = credential_version + 1, password_hash = ?`, hash, at)
		if err != nil {
			return err
		}
		return revokeSubject(ctx, tx, id, reasonPasswordChanged, at)
	})
	return s.mapErr(ctx, "set password", err)
}

// RehashPassword replaces user id's password hash with newHash only if it
// still is oldHash. An unknown id reports false, like a stale hash: the
// caller's answer is the same (keep the hash it has).
func (s *Store) RehashPassword(ctx context.Context, id, oldHash, newHash string, at time.Time) (bool, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var replaced bool
	err := s.write(ctx, true, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ? AND password_hash = ?`,
			newHash, micros(at), id, oldHash)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		replaced = n == 1
		return err
	})
	if err != nil {
		return false, s.mapErr(ctx, "rehash password", err)
	}
	return replaced, nil
}

// updateUser sets one column (set is "column = ?") and updated_at of the
// user named name and returns the user's ID.
func updateUser(ctx context.Context, tx *sql.Tx, name, set string, value any, at time.Time) (string, error) {
	var id string
	err := tx.QueryRowContext(ctx, `UPDATE users SET `+set+`, updated_at = ? WHERE name = ? RETURNING id`,
		value, micros(at), name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("sqlite: no user named %q: %w", name, idp.ErrNotFound)
	}
	return id, err
}

// revokeSubject ends every browser session of the subject and revokes the
// subject's live authorization codes and refresh-token families.
func revokeSubject(ctx context.Context, tx *sql.Tx, subject, reason string, at time.Time) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM browser_sessions WHERE user_id = ?`, subject); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE auth_codes SET revoked_at = ?, revoke_reason = ? WHERE user_id = ? AND revoked_at IS NULL`,
		micros(at), reason, subject); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE refresh_families SET revoked_at = ?, revoke_reason = ? WHERE subject = ? AND revoked_at IS NULL`,
		micros(at), reason, subject)
	return err
}

type scanner interface{ Scan(dest ...any) error }

func scanUser(row scanner) (idp.User, error) {
	var (
		u                idp.User
		created, updated int64
	)
	if err := row.Scan(&u.ID, &u.Name, &u.PasswordHash, &u.Disabled, &created, &updated, &u.Email, &u.EmailVerified, &u.DisplayName, &u.CredentialVersion); err != nil {
		return idp.User{}, err
	}
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	return u, nil
}
