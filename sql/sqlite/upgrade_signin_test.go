package sqlite_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/pressly/goose/v3"

	"github.com/rotor-idp/rotor/idp"
)

// TestUpgradeToSignIn migrates a database from before browser sign-in
// (version 2) that holds a user, a client and a family: they read back with
// the new fields empty (no profile, no redirect URIs, no session or code),
// and the migration goes down again cleanly.
func TestUpgradeToSignIn(t *testing.T) {
	dir, db, _ := migratedTo(t, 2, true)
	at := testTime.UnixMicro()
	for _, q := range []string{
		`INSERT INTO users (id, name, password_hash, created_at, updated_at) VALUES ('u1', 'alice', 'h', ?1, ?1)`,
		`INSERT INTO clients (id, secret_hash, grant_types, audiences, created_at) VALUES ('c1', x'01', '["password"]', '["a"]', ?1)`,
		`INSERT INTO refresh_families (id, client_id, subject, auth_time, created_at, expires_at) VALUES ('f1', 'c1', 'u1', ?1, ?1, ?1 + 3600000000)`,
		`INSERT INTO refresh_tokens (hash, family_id, issued_at) VALUES (x'02', 'f1', ?1)`,
	} {
		if _, err := db.ExecContext(t.Context(), q, at); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := open(t, dir) // migrates
	u, err := s.UserByName(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.ClientByID(t.Context(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.LookupRefresh(t.Context(), []byte{2})
	if err != nil {
		t.Fatal(err)
	}
	want := []any{
		idp.User{ID: "u1", Name: "alice", PasswordHash: "h", CreatedAt: testTime, UpdatedAt: testTime},
		idp.Client{ID: "c1", SecretHash: []byte{1}, GrantTypes: []string{"password"}, Audiences: []string{"a"}, CreatedAt: testTime},
		idp.Family{ID: "f1", ClientID: "c1", Subject: "u1", AuthTime: testTime, CreatedAt: testTime, ExpiresAt: testTime.Add(time.Hour)},
	}
	if d := cmp.Diff(want, []any{u, c, st.Family}, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("records from before the upgrade (-want +got):\n%s", d)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	down, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "rotor.db")+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	down.SetMaxOpenConns(1)
	p, err := goose.NewProvider(goose.DialectSQLite3, down, os.DirFS("migrations"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(t.Context(), 2); err != nil {
		t.Fatalf("migrating down to version 2: %v", err)
	}
	var name string
	if err := down.QueryRowContext(t.Context(), `SELECT name FROM users WHERE id = 'u1'`).Scan(&name); err != nil || name != "alice" {
		t.Errorf("user after going down: %q, %v", name, err)
	}
	if _, err := p.UpTo(t.Context(), 3); err != nil {
		t.Fatalf("migrating up again: %v", err)
	}
}
