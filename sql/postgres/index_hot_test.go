package postgres_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rotor-idp/rotor/internal/pgtest"
	seeder "github.com/rotor-idp/rotor/internal/seed"
	"github.com/rotor-idp/rotor/sql/postgres"
)

// TestHotQueryIndexes explains every query of the token endpoint's hot
// paths, and of housekeeping, against a seeded and analysed database (a few
// thousand users and families, tens of thousands of tokens, a quarter of the
// families expired), with the planner left to its own choices: each must use
// the index named, and none may scan a table sequentially.
func TestHotQueryIndexes(t *testing.T) {
	url := pgtest.NewDatabase(t)
	now := time.Now()
	spec := seeder.Spec{Users: 2000, Clients: 300, Families: 5000, Depth: 6, Expired: 0.25, Revoked: 0.05, Now: now}
	if _, err := seeder.Postgres(t.Context(), url, spec, "hash"); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, url)
	if _, err := conn.Exec(t.Context(), `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	var hash []byte
	if err := conn.QueryRow(t.Context(), `SELECT hash FROM refresh_tokens WHERE spent_at IS NOT NULL LIMIT 1`).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	family, err := spec.FamilyID(42)
	if err != nil {
		t.Fatal(err)
	}
	user, client := seeder.UserID(7), seeder.ClientID(3)
	tests := []struct {
		name    string
		query   string
		args    []any
		indexes []string
	}{
		{"LookupRefresh", postgres.StateQuery, []any{hash},
			[]string{"refresh_tokens_pkey", "refresh_families_pkey", "refresh_successors_parent"}},
		{"UseRefresh lock", postgres.LockStateQuery, []any{hash},
			[]string{"refresh_tokens_pkey", "refresh_families_pkey", "refresh_successors_parent"}},
		{"UseRefresh revoke", `UPDATE refresh_families SET revoked_at = $2, revoke_reason = $3 WHERE id = $1 AND revoked_at IS NULL`,
			[]any{family, now, "r"}, []string{"refresh_families_pkey"}},
		{"RevokeFamily", `UPDATE refresh_families SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1`,
			[]any{family, now}, []string{"refresh_families_pkey"}},
		{"ClientByID", `SELECT * FROM clients WHERE id = $1`, []any{client}, []string{"clients_pkey"}},
		{"UserByName", `SELECT * FROM users WHERE name = $1`, []any{seeder.UserName(7)}, []string{"users_name_key"}},
		{"UserByID", `SELECT * FROM users WHERE id = $1`, []any{user}, []string{"users_pkey"}},
		{"revoke a user's families", `UPDATE refresh_families SET revoked_at = $2 WHERE subject = $1 AND revoked_at IS NULL`,
			[]any{user, now}, []string{"refresh_families_live"}},
		{"RevokeConsent", `UPDATE refresh_families SET revoked_at = $3 WHERE subject = $1 AND client_id = $2 AND revoked_at IS NULL`,
			[]any{user, client, now}, []string{"refresh_families_live"}},
		{"LimitFamilies", postgres.LimitFamiliesQuery, []any{user, client, 100, now, "r"},
			[]string{"refresh_families_live", "refresh_families_pkey"}},
		{"DeleteClient's cascade", `DELETE FROM refresh_families WHERE client_id = $1`, []any{client},
			[]string{"refresh_families_client_id"}},
		{"the cascade to tokens", `DELETE FROM refresh_tokens WHERE family_id = $1`, []any{family},
			[]string{"refresh_tokens_family_id"}},
		{"the cascade to links", `DELETE FROM refresh_successors WHERE family_id = $1`, []any{family},
			[]string{"refresh_successors_family_id"}},
		{"UseRefresh spend", postgres.SpendQuery, []any{hash, now},
			[]string{"refresh_tokens_pkey", "refresh_successors_pkey"}},
		{"PurgeRefresh batch", postgres.PurgeQueries["refresh_families"], []any{now, 1000},
			[]string{"refresh_families_expires_at", "refresh_families_pkey"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx, err := conn.Begin(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(t.Context())
			rows, _ := tx.Query(t.Context(), `EXPLAIN `+tt.query, tt.args...)
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			plan := strings.Join(lines, "\n") + "\n"
			for _, index := range tt.indexes {
				if !strings.Contains(plan, " "+index+" ") && !strings.Contains(plan, " "+index+"\n") {
					t.Errorf("does not use %s:\n%s", index, plan)
				}
			}
			if strings.Contains(plan, "Seq Scan") {
				t.Errorf("scans a table sequentially:\n%s", plan)
			}
		})
	}
}
