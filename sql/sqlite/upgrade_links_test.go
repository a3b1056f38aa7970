package sqlite_test

import (
	"testing"

	"github.com/rotor-idp/rotor/internal/storetest"
)

// TestUpgradeMovesSuccessorLinks migrates refresh tokens stored with their
// parent (version 7) and checks that the upgrade keeps every decision the
// same (see storetest.CheckUpgradedChain).
func TestUpgradeMovesSuccessorLinks(t *testing.T) {
	dir, db, _ := migratedTo(t, 7, false)
	at := testTime.UnixMicro()
	for _, stmt := range []string{
		`INSERT INTO clients (id, created_at) VALUES ('c1', ?1)`,
		`INSERT INTO refresh_families (id, client_id, subject, auth_time, created_at, expires_at) VALUES ('f1', 'c1', 'u1', ?1, ?1, ?1 + 86400000000)`,
		`INSERT INTO refresh_tokens (hash, family_id, parent, issued_at, spent_at) VALUES (x'00', 'f1', NULL, ?1, ?1)`,
		`INSERT INTO refresh_tokens (hash, family_id, parent, issued_at, spent_at) VALUES (x'01', 'f1', x'00', ?1, ?1)`,
		`INSERT INTO refresh_tokens (hash, family_id, parent, issued_at, spent_at) VALUES (x'02', 'f1', x'01', ?1, NULL)`,
	} {
		if _, err := db.ExecContext(t.Context(), stmt, at); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := open(t, dir) // migrates
	storetest.CheckUpgradedChain(t, s, []byte{0}, []byte{1}, []byte{2})
}
