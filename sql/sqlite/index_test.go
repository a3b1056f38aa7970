package sqlite_test

import (
	"database/sql"
	"strings"
	"testing"

	seeder "github.com/rotor-idp/rotor/internal/seed"
	"github.com/rotor-idp/rotor/sql/sqlite"
)

// TestSignInIndexes checks that each browser sign-in query uses the index
// the migration made for it, as SQLite plans it (EXPLAIN QUERY PLAN).
func TestSignInIndexes(t *testing.T) {
	dir := t.TempDir()
	open(t, dir) // migrates
	db := rawDB(t, dir)
	hash := make([]byte, 32)
	tests := []struct {
		query string
		args  []any
		index string
	}{
		{`SELECT id FROM browser_sessions WHERE hash = ?1 AND idle_expires_at > ?2 AND expires_at > ?2`, []any{hash, 1}, "sqlite_autoindex_browser_sessions_2"},
		{`UPDATE refresh_families SET revoked_at = ?, revoke_reason = ? WHERE subject = ? AND revoked_at IS NULL`, []any{1, "r", "u1"}, "refresh_families_live"},
		{`DELETE FROM browser_sessions WHERE user_id = ?`, []any{"u1"}, "browser_sessions_user_id"},
		{`DELETE FROM browser_sessions WHERE idle_expires_at < ?`, []any{1}, "browser_sessions_idle_expires_at"},
		{`UPDATE auth_codes SET revoked_at = ?, revoke_reason = ? WHERE session_id = ? AND session_id <> '' AND revoked_at IS NULL`, []any{1, "r", "s1"}, "auth_codes_session_id"},
		{`UPDATE refresh_families SET revoked_at = ?, revoke_reason = ? WHERE session_id = ? AND session_id <> '' AND revoked_at IS NULL`, []any{1, "r", "s1"}, "refresh_families_session_id"},
		{`UPDATE refresh_families SET revoked_at = ?, revoke_reason = ?
WHERE session_id IN (SELECT id FROM browser_sessions WHERE user_id = ?) AND session_id <> '' AND revoked_at IS NULL`, []any{1, "r", "u1"}, "refresh_families_session_id"},
		{`UPDATE refresh_families SET revoked_at = ?, revoke_reason = ? WHERE code_hash = ? AND revoked_at IS NULL`, []any{1, "r", hash}, "refresh_families_code_hash"},
		{`SELECT client_id FROM auth_codes WHERE hash = ? AND client_id = ?`, []any{hash, "c"}, "sqlite_autoindex_auth_codes_1"},
		{`UPDATE auth_codes SET revoked_at = ?, revoke_reason = ? WHERE user_id = ? AND revoked_at IS NULL`, []any{1, "r", "u1"}, "auth_codes_user_client"},
		{`UPDATE auth_codes SET revoked_at = ?, revoke_reason = ? WHERE user_id = ? AND client_id = ? AND revoked_at IS NULL`, []any{1, "r", "u1", "c"}, "auth_codes_user_client"},
		{`DELETE FROM auth_codes WHERE expires_at < ?`, []any{1}, "auth_codes_expires_at"},
		{`UPDATE refresh_families SET revoked_at = ?, revoke_reason = ? WHERE subject = ? AND client_id = ? AND revoked_at IS NULL`, []any{1, "r", "u1", "c"}, "refresh_families_live"},
		{`SELECT scopes FROM consents WHERE user_id = ? ORDER BY client_id`, []any{"u1"}, "sqlite_autoindex_consents_1"},
	}
	for _, tt := range tests {
		t.Run(tt.index, func(t *testing.T) {
			rows, err := db.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+tt.query, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if p := strings.Join(plan, "\n"); !strings.Contains(p, "INDEX "+tt.index+" ") {
				t.Errorf("%s\ndoes not use %s:\n%s", tt.query, tt.index, p)
			}
		})
	}
}

// TestHotQueryIndexes explains the token endpoint's hot statements and the
// refresh purge against a seeded and analysed store (a few thousand users and
// families, tens of thousands of tokens, a quarter of the families expired):
// each must use the index named and none may scan a whole table.
func TestHotQueryIndexes(t *testing.T) {
	dir := t.TempDir()
	spec := seeder.Spec{Users: 2000, Clients: 300, Families: 5000, Depth: 6, Expired: 0.25, Revoked: 0.05}
	if _, err := seeder.SQLite(t.Context(), dir, spec, "hash"); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, dir)
	tests := []struct {
		name    string
		query   string
		indexes []string
	}{
		{"LookupRefresh and UseRefresh", sqlite.RefreshStateSQL,
			[]string{"sqlite_autoindex_refresh_tokens_1", "sqlite_autoindex_refresh_families_1", "refresh_successors_parent", "INTEGER PRIMARY KEY"}},
		{"UseRefresh check", `SELECT 1 FROM refresh_tokens WHERE hash = ?`, []string{"sqlite_autoindex_refresh_tokens_1"}},
		{"UseRefresh spend", `UPDATE refresh_tokens SET spent_at = ? WHERE hash = ? AND spent_at IS NULL`, []string{"sqlite_autoindex_refresh_tokens_1"}},
		{"UseRefresh unlink", `DELETE FROM refresh_successors WHERE child = ?`, []string{"sqlite_autoindex_refresh_successors_1"}},
		{"UseRefresh revoke", `UPDATE refresh_families SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL`,
			[]string{"sqlite_autoindex_refresh_families_1"}},
		{"ClientByID", `SELECT * FROM clients WHERE id = ?`, []string{"sqlite_autoindex_clients_1"}},
		{"UserByName", `SELECT * FROM users WHERE name = ?`, []string{"sqlite_autoindex_users_2"}},
		{"UserByID", `SELECT * FROM users WHERE id = ?`, []string{"sqlite_autoindex_users_1"}},
		{"the cascade to tokens", `DELETE FROM refresh_tokens WHERE family_id = ?`, []string{"refresh_tokens_family_id"}},
		{"the cascade to links", `DELETE FROM refresh_successors WHERE family_id = ?`, []string{"refresh_successors_family_id"}},
		{"LimitFamilies", sqlite.LimitFamiliesSQL, []string{"refresh_families_live"}},
		{"PurgeRefresh batch", sqlite.PurgeSQL("refresh_families", "expires_at"), []string{"refresh_families_expires_at"}},
		{"PurgeSessions batch", sqlite.PurgeSQL("browser_sessions", "idle_expires_at"), []string{"browser_sessions_idle_expires_at"}},
		{"PurgeCodes batch", sqlite.PurgeSQL("auth_codes", "expires_at"), []string{"auth_codes_expires_at"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := queryPlan(t, db, tt.query)
			for _, index := range tt.indexes {
				if !strings.Contains(plan, " "+index+" ") {
					t.Errorf("does not use %s:\n%s", index, plan)
				}
			}
			for line := range strings.Lines(plan) {
				if strings.HasPrefix(line, "SCAN ") || strings.Contains(line, "TEMP B-TREE") {
					t.Errorf("scans a table or sorts:\n%s", plan)
				}
			}
		})
	}
}

// queryPlan is SQLite's EXPLAIN QUERY PLAN of query, one step a line, its
// parameters NULL, which does not change the plan.
func queryPlan(t *testing.T, db *sql.DB, query string) string {
	t.Helper()
	args := make([]any, strings.Count(query, "?"))
	rows, err := db.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(detail + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan.String()
}
