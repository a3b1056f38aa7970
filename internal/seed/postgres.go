package seed

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rotor-idp/rotor/idp"
)

// bulkTokens is the number of token rows from which Postgres drops the
// indexes and foreign keys of the refresh tables for the load and builds
// them again afterwards, which is several times faster than keeping them up
// row by row.
var bulkTokens = 200_000

// Postgres fills the migrated database at url through COPY, in one
// transaction, and VACUUMs and ANALYZEs it. passwordHash is every user's stored hash (see
// Password). It is meant for databases that serve no traffic: a large load
// holds an exclusive lock on the refresh tables until it commits.
func Postgres(ctx context.Context, url string, spec Spec, passwordHash string) (Stats, error) {
	spec, err := spec.withDefaults()
	if err != nil {
		return Stats{}, err
	}
	start := time.Now()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return Stats{}, fmt.Errorf("seed: %w", err)
	}
	defer conn.Close(context.Background())
	var st Stats
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL maintenance_work_mem = '256MB'`); err != nil {
			return err
		}
		if err := copyUsersClients(ctx, tx, spec, passwordHash, &st); err != nil {
			return err
		}
		var restore []string
		if spec.Families*spec.Depth >= bulkTokens {
			if restore, err = dropIndexes(ctx, tx, "refresh_successors", "refresh_tokens", "refresh_families"); err != nil {
				return err
			}
		}
		if err := copyFamilies(ctx, tx, spec, &st); err != nil {
			return err
		}
		for _, stmt := range restore {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("%s: %w", stmt, err)
			}
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("seed: %w", err)
	}
	// VACUUM as well as ANALYZE: rows fresh from COPY have no hint bits and
	// no visibility map, so the first reads would write every page, which a
	// database that grew over months does not do.
	if _, err := conn.Exec(ctx, `VACUUM (ANALYZE) users, clients, refresh_families, refresh_tokens, refresh_successors`); err != nil {
		return st, fmt.Errorf("seed: vacuum: %w", err)
	}
	st.Elapsed = time.Since(start)
	return st, nil
}

func copyUsersClients(ctx context.Context, tx pgx.Tx, spec Spec, passwordHash string, st *Stats) error {
	i := 0
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"users"}, []string{"id", "name", "password_hash", "created_at", "updated_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == spec.Users {
				return nil, nil
			}
			u := spec.user(i, passwordHash)
			i++
			return []any{u.ID, u.Name, u.PasswordHash, u.CreatedAt, u.UpdatedAt}, nil
		}))
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	st.Users = int(n)
	i = 0
	n, err = tx.CopyFrom(ctx, pgx.Identifier{"clients"}, []string{"id", "secret_hash", "grant_types", "created_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == spec.Clients {
				return nil, nil
			}
			c := spec.client(i)
			i++
			return []any{c.ID, c.SecretHash, c.GrantTypes, c.CreatedAt}, nil
		}))
	if err != nil {
		return fmt.Errorf("clients: %w", err)
	}
	st.Clients = int(n)
	return nil
}

func copyFamilies(ctx context.Context, tx pgx.Tx, spec Spec, st *Stats) error {
	i := 0
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"refresh_families"},
		[]string{"id", "client_id", "subject", "auth_time", "created_at", "expires_at", "revoked_at", "revoke_reason"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == spec.Families {
				return nil, nil
			}
			f := spec.family(i, nil).f
			i++
			return []any{f.ID, f.ClientID, f.Subject, f.AuthTime, f.CreatedAt, f.ExpiresAt, nullTime(f.RevokedAt), f.RevokeReason}, nil
		}))
	if err != nil {
		return fmt.Errorf("refresh families: %w", err)
	}
	st.Families = int(n)
	i = 0
	var (
		buf  []idp.RefreshToken
		rows familyRows
	)
	n, err = tx.CopyFrom(ctx, pgx.Identifier{"refresh_tokens"}, []string{"hash", "family_id", "issued_at", "spent_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			for len(rows.tokens) == 0 {
				if i == spec.Families {
					return nil, nil
				}
				rows = spec.family(i, buf)
				buf = rows.tokens
				i++
			}
			t := rows.tokens[0]
			rows.tokens = rows.tokens[1:]
			return []any{t.Hash, t.FamilyID, t.IssuedAt, nullTime(t.SpentAt)}, nil
		}))
	if err != nil {
		return fmt.Errorf("refresh tokens: %w", err)
	}
	st.Tokens = int(n)
	return copyLinks(ctx, tx, spec)
}

// copyLinks links every family's unspent last token to its parent, as
// rotations leave them.
func copyLinks(ctx context.Context, tx pgx.Tx, spec Spec) error {
	i := 0
	var buf []idp.RefreshToken
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"refresh_successors"}, []string{"child", "parent", "family_id"},
		pgx.CopyFromFunc(func() ([]any, error) {
			for ; i < spec.Families; i++ {
				rows := spec.family(i, buf)
				buf = rows.tokens
				if last := rows.tokens[len(rows.tokens)-1]; last.Parent != nil && last.SpentAt.IsZero() {
					i++
					return []any{last.Hash, last.Parent, last.FamilyID}, nil
				}
			}
			return nil, nil
		}))
	if err != nil {
		return fmt.Errorf("refresh successors: %w", err)
	}
	return nil
}

// dropIndexes drops the indexes and the key and foreign-key constraints of
// the tables (referencing tables first) and returns the statements that
// make them again, in the order to run them: the referenced tables' first.
// Definitions are read from the catalog, so they are exactly the
// migrations'.
func dropIndexes(ctx context.Context, tx pgx.Tx, tables ...string) ([]string, error) {
	var drop, restore []string
	for _, table := range tables {
		var cons, idx []string
		rows, _ := tx.Query(ctx, `
SELECT format('ALTER TABLE %I DROP CONSTRAINT %I', $1::text, conname),
       format('ALTER TABLE %I ADD CONSTRAINT %I %s', $1::text, conname, pg_get_constraintdef(oid))
FROM pg_constraint WHERE conrelid = $1::regclass AND contype IN ('p', 'u', 'f')
ORDER BY contype = 'f' DESC, conname`, table)
		err := forEach(rows, func(d, r string) { drop = append(drop, d); cons = append(cons, r) })
		if err != nil {
			return nil, err
		}
		rows, _ = tx.Query(ctx, `
SELECT format('DROP INDEX %I', i.relname), pg_get_indexdef(i.oid)
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
WHERE x.indrelid = $1::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
ORDER BY i.relname`, table)
		if err := forEach(rows, func(d, r string) { drop = append(drop, d); idx = append(idx, r) }); err != nil {
			return nil, err
		}
		// Keys first (a foreign key of a later table needs them), then the
		// table's other indexes.
		restore = append(append(reverse(cons), idx...), restore...)
	}
	for _, stmt := range drop {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return nil, fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return restore, nil
}

func forEach(rows pgx.Rows, fn func(a, b string)) error {
	var a, b string
	_, err := pgx.ForEachRow(rows, []any{&a, &b}, func() error { fn(a, b); return nil })
	return err
}

// reverse returns s reversed: constraints were listed foreign keys first,
// for dropping, and are made again keys first.
func reverse(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func nullTime(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}
