package postgres_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/internal/storetest"
	"github.com/rotor-idp/rotor/sql/postgres"
	"github.com/rotor-idp/rotor/sql/postgres/migrations"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func open(t *testing.T, url string, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), url, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func stores(s *postgres.Store) storetest.Stores {
	return storetest.Stores{Users: s, Clients: s, Refresh: s, Sessions: s, Codes: s, Consents: s, Keys: s, Replay: s, Watcher: s}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		url := pgtest.NewDatabase(t)
		st := stores(open(t, url))
		st.Reopen = func(t *testing.T) storetest.Stores { return stores(open(t, url)) }
		return st
	})
}

func tables(t *testing.T, url string) []string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, _ := conn.Query(t.Context(), `SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

var wantTables = []string{"auth_codes", "browser_sessions", "clients", "consents", "refresh_families", "refresh_successors", "refresh_tokens", "rotor_schema_migrations", "signing_keys", "used_jtis", "users"}

func TestMigrateIdempotent(t *testing.T) {
	url := pgtest.NewEmptyDatabase(t)
	for i := range 3 {
		if err := postgres.Migrate(t.Context(), url); err != nil {
			t.Fatalf("Migrate #%d: %v", i+1, err)
		}
	}
	if diff := cmp.Diff(wantTables, tables(t, url)); diff != "" {
		t.Errorf("tables (-want +got):\n%s", diff)
	}
	// And the store works on the result.
	s := open(t, url)
	if err := s.CreateClient(t.Context(), idp.Client{ID: "c", CreatedAt: time.Now()}); err != nil {
		t.Errorf("CreateClient after Migrate: %v", err)
	}
}

func TestMigrateConcurrently(t *testing.T) {
	url := pgtest.NewEmptyDatabase(t)
	errs := make(chan error, 4)
	start := make(chan struct{})
	for range 4 {
		go func() {
			<-start
			errs <- postgres.Migrate(t.Context(), url)
		}()
	}
	close(start)
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Migrate: %v", err)
		}
	}
	if diff := cmp.Diff(wantTables, tables(t, url)); diff != "" {
		t.Errorf("tables (-want +got):\n%s", diff)
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var applied int
	err = conn.QueryRow(t.Context(), `SELECT count(*) FROM `+migrations.VersionTable+` WHERE version_id > 0`).Scan(&applied)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := migrations.FS().ReadDir(".")
	if applied != len(entries) {
		t.Errorf("%d migrations recorded, want %d (each applied once)", applied, len(entries))
	}
}

// holdInTx runs query in a transaction of its own connection to url and
// leaves it open, holding whatever locks query took, until the caller
// commits or rolls it back, or the test ends.
func holdInTx(t *testing.T, url, query string, args ...any) pgx.Tx {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	if _, err := tx.Exec(t.Context(), query, args...); err != nil {
		t.Fatal(err)
	}
	return tx
}
