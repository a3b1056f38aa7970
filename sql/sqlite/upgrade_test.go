package sqlite_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pressly/goose/v3"

	"github.com/rotor-idp/rotor/keys"
)

// TestUpgradeKeepsKeysUnstamped migrates a database that holds keys from
// before the SignableAt stamp (version 1) and checks the documented choice:
// they read back unchanged and unstamped, to be judged by the reader's
// propagation delay as before, while new keys carry their stamp.
func TestUpgradeKeepsKeysUnstamped(t *testing.T) {
	dir, db, _ := migratedTo(t, 1, false)
	old := testKey("old-next", keys.EdDSA, keys.StateNext)
	_, err := db.ExecContext(t.Context(), `INSERT INTO signing_keys (kid, alg, state, public_jwk, sealed, kek_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		old.KID, string(old.Alg), string(old.State), old.PublicJWK, old.Sealed, old.KEKID, old.CreatedAt.UnixMicro())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := open(t, dir) // migrates
	fresh := testKey("new-next", keys.RS256, keys.StateNext)
	fresh.SignableAt = fresh.CreatedAt.Add(time.Hour)
	err = s.UpdateLane(t.Context(), keys.RS256, func([]keys.Record) (keys.Change, error) {
		return keys.Change{Insert: []keys.Record{fresh}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]keys.Record{old, fresh}, got); diff != "" {
		t.Errorf("keys after the upgrade (-want +got):\n%s", diff)
	}
}

// migratedTo returns a fresh store directory migrated up to version, a
// connection to its database (one at a time, closed when the test ends;
// with foreign keys enforced if fk) and the migration provider.
func migratedTo(t *testing.T, version int64, fk bool) (string, *sql.DB, *goose.Provider) {
	t.Helper()
	dir := t.TempDir()
	dsn := "file:" + filepath.Join(dir, "rotor.db")
	if fk {
		dsn += "?_pragma=foreign_keys(1)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	p, err := goose.NewProvider(goose.DialectSQLite3, db, os.DirFS("migrations"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(t.Context(), version); err != nil {
		t.Fatalf("migrating to version %d: %v", version, err)
	}
	return dir, db, p
}
