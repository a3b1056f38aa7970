package postgres_test

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/keys"
	"github.com/rotor-idp/rotor/sql/postgres"
	"github.com/rotor-idp/rotor/sql/postgres/migrations"
)

// TestUpgradeKeepsKeysUnstamped migrates a database that holds keys from
// before the SignableAt stamp (version 1) and checks the documented choice:
// they read back unchanged and unstamped, to be judged by the reader's
// propagation delay as before, while new keys carry their stamp.
func TestUpgradeKeepsKeysUnstamped(t *testing.T) {
	url, db, _ := migratedTo(t, 1)
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	old := keys.Record{KID: "old-next", Alg: keys.EdDSA, State: keys.StateNext, PublicJWK: []byte(`{"kty":"OKP"}`), Sealed: []byte("sealed"), KEKID: "k1", CreatedAt: created}
	_, err := db.ExecContext(t.Context(), `INSERT INTO signing_keys (kid, alg, state, public_jwk, sealed, kek_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		old.KID, old.Alg, old.State, old.PublicJWK, old.Sealed, old.KEKID, old.CreatedAt)
	if err != nil {
		t.Fatal(err)
	}

	if err := postgres.Migrate(t.Context(), url); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	s := open(t, url)
	fresh := keys.Record{KID: "new-next", Alg: keys.RS256, State: keys.StateNext, PublicJWK: []byte(`{}`), Sealed: []byte("s"), KEKID: "k1", CreatedAt: created, SignableAt: created.Add(time.Hour)}
	err = s.UpdateLane(t.Context(), keys.RS256, func([]keys.Record) (keys.Change, error) {
		return keys.Change{Insert: []keys.Record{fresh}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]keys.Record{old, fresh}, got); diff != "" {
		t.Errorf("keys after the upgrade (-want +got):\n%s", diff)
	}
}

// migratedTo returns a fresh database migrated up to version, a connection
// to it (closed when the test ends) and the migration provider.
func migratedTo(t *testing.T, version int64) (string, *sql.DB, *goose.Provider) {
	t.Helper()
	url := pgtest.NewEmptyDatabase(t)
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { db.Close() })
	p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS("migrations"),
		goose.WithTableName(migrations.VersionTable), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(t.Context(), version); err != nil {
		t.Fatalf("migrating to version %d: %v", version, err)
	}
	return url, db, p
}
