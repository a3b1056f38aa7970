package postgres_test

import (
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/storetest"
	"github.com/rotor-idp/rotor/sql/postgres"
)

// TestUpgradeMovesSuccessorLinks migrates refresh tokens stored with their
// parent (version 7) and checks that the upgrade keeps every decision the
// same: the unspent token is still its parent's successor (a retry within the
// reuse interval finds it), spent tokens have none, and the unspent one
// rotates.
func TestUpgradeMovesSuccessorLinks(t *testing.T) {
	url, db, _ := migratedTo(t, 7)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, stmt := range []string{
		`INSERT INTO clients (id, created_at) VALUES ('c1', $1)`,
		`INSERT INTO refresh_families (id, client_id, subject, auth_time, created_at, expires_at) VALUES ('f1', 'c1', 'u1', $1, $1, $1::timestamptz + interval '1 day')`,
		`INSERT INTO refresh_tokens (hash, family_id, parent, issued_at, spent_at) VALUES ('\x00', 'f1', NULL, $1, $1)`,
		`INSERT INTO refresh_tokens (hash, family_id, parent, issued_at, spent_at) VALUES ('\x01', 'f1', '\x00', $1, $1)`,
		`INSERT INTO refresh_tokens (hash, family_id, parent, issued_at, spent_at) VALUES ('\x02', 'f1', '\x01', $1, NULL)`,
	} {
		if _, err := db.ExecContext(t.Context(), stmt, at); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}

	if err := postgres.Migrate(t.Context(), url); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	s := open(t, url)
	storetest.CheckUpgradedChain(t, s, []byte{0}, []byte{1}, []byte{2})
}
