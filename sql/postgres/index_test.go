package postgres_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/sql/postgres"
)

// TestSignInIndexes checks that each browser sign-in query can use the index
// the migration made for it. Sequential scans are switched off, since on
// empty tables the planner would rightly prefer them; a query the index
// cannot serve (a partial index whose predicate the query does not imply,
// say) still gets a sequential scan and fails. Where another index could
// serve too, and an empty table gives the planner no reason to prefer
// either, the other is dropped in a transaction that is rolled back.
func TestSignInIndexes(t *testing.T) {
	conn, err := pgx.Connect(t.Context(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if _, err := conn.Exec(t.Context(), `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	now, ids, hash := time.Now(), []string{"s1"}, make([]byte, 32)
	tests := []struct {
		query string
		args  []any
		index string
		drop  string // indexes that would compete on an empty table, space-separated
	}{
		{`SELECT id FROM browser_sessions WHERE hash = $1 AND idle_expires_at > $2 AND expires_at > $2`, []any{hash, now}, "browser_sessions_hash_key", ""},
		{`DELETE FROM browser_sessions WHERE id = $1`, []any{"s1"}, "browser_sessions_pkey", ""},
		{`UPDATE refresh_families SET revoked_at = $2 WHERE subject = $1 AND revoked_at IS NULL`, []any{"u1", now}, "refresh_families_live", ""},
		{`DELETE FROM browser_sessions WHERE user_id = $1 RETURNING id`, []any{"u1"}, "browser_sessions_user_id", ""},
		{postgres.PurgeQueries["browser_sessions"], []any{now, 100}, "browser_sessions_idle_expires_at", ""},
		{`UPDATE auth_codes SET revoked_at = $2 WHERE session_id = ANY($1) AND session_id <> '' AND revoked_at IS NULL`, []any{ids, now}, "auth_codes_session_id", ""},
		{`UPDATE refresh_families SET revoked_at = $2 WHERE session_id = ANY($1) AND session_id <> '' AND revoked_at IS NULL`, []any{ids, now}, "refresh_families_session_id", "refresh_families_live"},
		{`UPDATE refresh_families SET revoked_at = $2 WHERE code_hash = $1 AND revoked_at IS NULL`, []any{hash, now}, "refresh_families_code_hash", "refresh_families_live"},
		{`UPDATE auth_codes SET redeemed_at = $3 WHERE hash = $1 AND client_id = $2 AND redeemed_at IS NULL`, []any{hash, "c", now}, "auth_codes_pkey", "auth_codes_client_id"},
		{`UPDATE auth_codes SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`, []any{"u1", now}, "auth_codes_user_client", ""},
		{`UPDATE auth_codes SET revoked_at = $3 WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL`, []any{"u1", "c", now}, "auth_codes_user_client", "auth_codes_client_id"},
		{postgres.PurgeQueries["auth_codes"], []any{now, 100}, "auth_codes_expires_at", ""},
		{`DELETE FROM auth_codes WHERE client_id = $1`, []any{"c"}, "auth_codes_client_id", ""},
		{`UPDATE refresh_families SET revoked_at = $3 WHERE subject = $1 AND client_id = $2 AND revoked_at IS NULL`, []any{"u1", "c", now}, "refresh_families_live", "refresh_families_client_id"},
		{`SELECT scopes FROM consents WHERE user_id = $1 AND client_id = $2`, []any{"u1", "c"}, "consents_pkey", ""},
		{`SELECT scopes FROM consents WHERE user_id = $1 ORDER BY client_id COLLATE "C"`, []any{"u1"}, "consents_pkey", ""},
		{`DELETE FROM consents WHERE client_id = $1`, []any{"c"}, "consents_client_id", ""},
	}
	for _, tt := range tests {
		t.Run(tt.index, func(t *testing.T) {
			tx, err := conn.Begin(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(t.Context())
			for _, index := range strings.Fields(tt.drop) {
				if _, err := tx.Exec(t.Context(), `DROP INDEX `+index); err != nil {
					t.Fatal(err)
				}
			}
			rows, _ := tx.Query(t.Context(), `EXPLAIN `+tt.query, tt.args...)
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			plan := strings.Join(lines, "\n")
			if !strings.Contains(plan, " "+tt.index+" ") && !strings.HasSuffix(plan, " "+tt.index) {
				t.Errorf("%s\ndoes not use %s:\n%s", tt.query, tt.index, plan)
			}
		})
	}
}
