package seed

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/sql/sqlite"
)

// sqliteBatch is how many rows one embedded-store transaction inserts.
const sqliteBatch = 20_000

// SQLite fills the embedded store in dir (created and migrated if need be)
// with batched inserts. Clients go through the store; the many rows (users,
// families, tokens) through prepared inserts in large transactions, without
// fsync. No server may run on dir meanwhile.
//
// It does not ANALYZE, as Rotor never does: with statistics present
// (sqlite_stat4), SQLite plans every statement again whenever a bound value
// changes, which would add a statement compilation to every query.
func SQLite(ctx context.Context, dir string, spec Spec, passwordHash string) (Stats, error) {
	spec, err := spec.withDefaults()
	if err != nil {
		return Stats{}, err
	}
	start := time.Now()
	st := Stats{}
	s, err := sqlite.Open(ctx, dir)
	if err != nil {
		return st, err
	}
	for i := range spec.Clients {
		if err := s.CreateClient(ctx, spec.client(i)); err != nil {
			s.Close()
			return st, fmt.Errorf("seed: client: %w", err)
		}
		st.Clients++
	}
	if err := s.Close(); err != nil {
		return st, err
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "rotor.db")+"?_pragma=busy_timeout(5000)&_pragma=synchronous(OFF)")
	if err != nil {
		return st, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	err = errors.Join(
		batches(ctx, db, `INSERT INTO users (id, name, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			spec.Users, func(i int, ins func(...any) error) error {
				u := spec.user(i, passwordHash)
				st.Users++
				return ins(u.ID, u.Name, u.PasswordHash, u.CreatedAt.UnixMicro(), u.UpdatedAt.UnixMicro())
			}),
		batches(ctx, db, `INSERT INTO refresh_families (id, client_id, subject, auth_time, created_at, expires_at, revoked_at, revoke_reason)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, spec.Families, func(i int, ins func(...any) error) error {
			f := spec.family(i, nil).f
			st.Families++
			return ins(f.ID, f.ClientID, f.Subject, f.AuthTime.UnixMicro(), f.CreatedAt.UnixMicro(), f.ExpiresAt.UnixMicro(),
				nullMicros(f.RevokedAt), f.RevokeReason)
		}),
	)
	if err != nil {
		return st, fmt.Errorf("seed: %w", err)
	}
	var buf []idp.RefreshToken
	err = batches(ctx, db, `INSERT INTO refresh_tokens (hash, family_id, issued_at, spent_at) VALUES (?, ?, ?, ?)`,
		spec.Families, func(i int, ins func(...any) error) error {
			rows := spec.family(i, buf)
			buf = rows.tokens
			for _, t := range rows.tokens {
				if err := ins(t.Hash, t.FamilyID, t.IssuedAt.UnixMicro(), nullMicros(t.SpentAt)); err != nil {
					return err
				}
				st.Tokens++
			}
			return nil
		})
	if err != nil {
		return st, fmt.Errorf("seed: refresh tokens: %w", err)
	}
	// Every family's unspent last token is linked to its parent, as
	// rotations leave them.
	err = batches(ctx, db, `INSERT INTO refresh_successors (child, parent, family_id) VALUES (?, ?, ?)`,
		spec.Families, func(i int, ins func(...any) error) error {
			rows := spec.family(i, buf)
			buf = rows.tokens
			if last := rows.tokens[len(rows.tokens)-1]; last.Parent != nil && last.SpentAt.IsZero() {
				return ins(last.Hash, last.Parent, last.FamilyID)
			}
			return nil
		})
	if err != nil {
		return st, fmt.Errorf("seed: refresh successors: %w", err)
	}
	st.Elapsed = time.Since(start)
	return st, nil
}

// batches calls row for 0..n-1 with an insert function, committing every
// sqliteBatch items.
func batches(ctx context.Context, db *sql.DB, query string, n int, row func(i int, ins func(...any) error) error) error {
	for lo := 0; lo < n; lo += sqliteBatch {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, query)
		if err != nil {
			_ = tx.Rollback()
			return err
		}
		ins := func(args ...any) error { _, err := stmt.ExecContext(ctx, args...); return err }
		for i := lo; i < min(lo+sqliteBatch, n); i++ {
			if err := row(i, ins); err != nil {
				_ = tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}
