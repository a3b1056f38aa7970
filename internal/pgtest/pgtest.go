package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/pgcluster"
	"github.com/rotor-idp/rotor/sql/postgres/migrations"
)

// EnvURL names the environment variable that points the harness at an
// existing server instead of starting one. Its value is a postgres:// URL of a
// role that may create and drop databases; each test gets its own database on
// it.
const EnvURL = "ROTOR_TEST_DATABASE_URL"

// Main runs the tests and then stops the shared cluster and removes its
// files. Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// Without Main the shared cluster still dies with the test process (the
// kernel signals it), but its directory stays behind until a later run sweeps
// it up.
func Main(m *testing.M) int {
	code := m.Run()
	shared.close()
	return code
}

// NewDatabase returns the URL of a fresh database with Rotor's Postgres
// migrations applied, on the shared cluster (started on first use) or on the
// server named by ROTOR_TEST_DATABASE_URL. Each call gets its own database,
// copied from a template migrated once per process, and drops it when the test
// ends.
//
// Without Postgres it skips the test with a loud message, or fails it when
// the CI environment variable is "true".
func NewDatabase(t testing.TB) string {
	t.Helper()
	return shared.newDatabase(t, true)
}

// NewEmptyDatabase is NewDatabase without the migrations, for testing them.
func NewEmptyDatabase(t testing.TB) string {
	t.Helper()
	return shared.newDatabase(t, false)
}

// harness is the process's connection to Postgres: the shared server (or the
// external one), and the migrated template database.
type harness struct {
	lookup lookup

	mu      sync.Mutex
	started bool
	err     error              // sticky: why there is no server
	srv     *pgcluster.Cluster // nil when using EnvURL
	admin   string             // URL of a database to run CREATE/DROP DATABASE from
	tmpl    string             // migrated template database; "" until made
}

var shared = &harness{lookup: defaultLookup()}

// lookup says how the harness reads the environment and where it finds the
// Postgres binaries; tests replace it to simulate a machine without Postgres.
type lookup struct {
	getenv func(string) string
	bins   pgcluster.Lookup
}

func defaultLookup() lookup {
	return lookup{getenv: os.Getenv, bins: pgcluster.DefaultLookup()}
}

// ensure starts the shared server once. Errors are sticky so that a broken
// setup costs one attempt, not one per test.
func (h *harness) ensure() error {
	if h.started {
		return h.err
	}
	h.started = true
	if u := h.lookup.getenv(EnvURL); u != "" {
		h.admin = u
		return nil
	}
	bins, err := h.lookup.bins.Find()
	if err != nil {
		h.err = err
		return err
	}
	h.srv, h.err = pgcluster.New(bins)
	if h.err == nil {
		h.admin = h.srv.AdminURL()
	}
	return h.err
}

func (h *harness) newDatabase(t testing.TB, migrated bool) string {
	t.Helper()
	h.mu.Lock()
	err := h.ensure()
	if err == nil && migrated && h.tmpl == "" {
		err = h.makeTemplate()
	}
	admin, tmpl := h.admin, h.tmpl
	h.mu.Unlock()
	if err != nil {
		h.lookup.unavailable(t, err)
		return ""
	}

	name := "rotor_test_" + randomHex(8)
	stmt := "CREATE DATABASE " + name
	if migrated {
		stmt += " TEMPLATE " + tmpl
	}
	if err := adminExec(admin, stmt); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		// FORCE ends connections the test left open (PostgreSQL 13+).
		if err := adminExec(admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	return pgcluster.WithDatabase(admin, name)
}

// makeTemplate migrates a template database once; h.mu held.
func (h *harness) makeTemplate() error {
	// Unique per process, so test binaries sharing an external server never
	// copy a template another one is still migrating or dropping.
	name := fmt.Sprintf("rotor_template_%d_%s", os.Getpid(), randomHex(4))
	if err := adminExec(h.admin, "CREATE DATABASE "+name); err != nil {
		return fmt.Errorf("pgtest: create template database: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := migrations.Up(ctx, pgcluster.WithDatabase(h.admin, name)); err != nil {
		adminExec(h.admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		return fmt.Errorf("pgtest: migrate template database: %w", err)
	}
	h.tmpl = name
	return nil
}

func (h *harness) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.srv != nil {
		h.srv.Destroy()
		h.srv = nil
	} else if h.tmpl != "" {
		adminExec(h.admin, "DROP DATABASE IF EXISTS "+h.tmpl+" WITH (FORCE)")
	}
	h.tmpl = ""
	h.started, h.err = false, nil
}

// unavailable reports that there is no Postgres: a loud skip on a developer's
// machine, a failure under CI=true so that a misconfigured CI cannot pass by
// skipping. Real failures (a server that would not start) always fail.
func (l lookup) unavailable(t testing.TB, err error) {
	t.Helper()
	if missing := (*pgcluster.MissingError)(nil); !errors.As(err, &missing) {
		t.Fatal(err)
		return
	}
	if l.getenv("CI") == "true" {
		t.Fatalf("POSTGRES TESTS FAILED: %v; CI=true requires PostgreSQL: install it or set %s", err, EnvURL)
		return
	}
	t.Skipf("POSTGRES TESTS SKIPPED: %v; install PostgreSQL or set %s", err, EnvURL)
}

// adminExec runs one statement on the admin connection string.
func adminExec(admin, stmt string) error {
	return pgcluster.Exec(context.Background(), admin, stmt)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Cluster is a Postgres server of its own, for tests that take the database
// away (Stop) and bring it back (Start) while a store is using it.
type Cluster struct {
	t   testing.TB
	srv *pgcluster.Cluster
}

// NewCluster starts a dedicated cluster with a migrated database "rotor" and
// removes it when the test ends. It always starts its own server from the
// local Postgres binaries, even when ROTOR_TEST_DATABASE_URL is set: a test
// that stops and starts its database cannot share one, and skipping it
// whenever the variable is set would silently drop the outage tests. Without
// binaries it skips (or fails under CI=true) like NewDatabase.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	return shared.lookup.newCluster(t)
}

func (l lookup) newCluster(t testing.TB) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := pgcluster.NewMigrated(ctx, l.bins, "rotor")
	if err != nil {
		l.unavailable(t, err)
		return nil
	}
	t.Cleanup(srv.Destroy)
	return &Cluster{t: t, srv: srv}
}

// URL returns the postgres:// URL of the cluster's migrated database "rotor",
// as a superuser. It stays valid across Stop and Start.
func (c *Cluster) URL() string { return c.srv.URL("rotor") }

// Stop shuts the server down the fast way (open transactions are rolled back
// and clients disconnected) and returns once it has exited. Call it from the
// test's goroutine.
func (c *Cluster) Stop() { c.srv.Stop() }

// Start starts the stopped server again on the same port with the same data
// and returns once it accepts connections. Call it from the test's goroutine.
func (c *Cluster) Start() {
	c.t.Helper()
	if err := c.srv.Start(); err != nil {
		c.t.Fatal(err)
	}
}
