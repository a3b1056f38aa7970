package sqlite_test

import (
	"strings"
	"testing"
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
		{`UPDATE refresh_families SET revoked_at = ?, revoke_reason = ? WHERE subject = ? AND revoked_at IS NULL`, []any{1, "r", "u1"}, "refresh_families_subject_client"},
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
		{`UPDATE refresh_families SET revoked_at = ?, revoke_reason = ? WHERE subject = ? AND client_id = ? AND revoked_at IS NULL`, []any{1, "r", "u1", "c"}, "refresh_families_subject_client"},
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
