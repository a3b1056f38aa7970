package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rotor-idp/rotor/internal/pgcluster"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustExec(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func queryInt(t *testing.T, conn *pgx.Conn, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

const hasUsersTable = "SELECT count(*) FROM information_schema.tables WHERE table_name = 'users'"

func TestNewDatabaseIsMigratedAndIsolated(t *testing.T) {
	a := connect(t, NewDatabase(t))
	b := connect(t, NewDatabase(t))
	for name, conn := range map[string]*pgx.Conn{"a": a, "b": b} {
		if got := queryInt(t, conn, hasUsersTable); got != 1 {
			t.Errorf("database %s: users tables = %d, want 1 (migrated)", name, got)
		}
	}
	mustExec(t, a, "INSERT INTO users (id, name, password_hash, created_at, updated_at) VALUES ('u1', 'alice', 'x', now(), now())")
	if got := queryInt(t, b, "SELECT count(*) FROM users"); got != 0 {
		t.Errorf("database b sees %d users written to database a, want 0", got)
	}
	if got := queryInt(t, a, "SELECT count(*) FROM users"); got != 1 {
		t.Errorf("database a has %d users, want 1", got)
	}
}

func TestNewEmptyDatabaseIsNotMigrated(t *testing.T) {
	conn := connect(t, NewEmptyDatabase(t))
	if got := queryInt(t, conn, hasUsersTable); got != 0 {
		t.Errorf("users tables = %d, want 0", got)
	}
}

func TestDatabaseDroppedAtCleanup(t *testing.T) {
	var name string
	t.Run("user", func(t *testing.T) {
		conn := connect(t, NewDatabase(t))
		if err := conn.QueryRow(context.Background(), "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		// The connection is deliberately left open: cleanup must force it.
	})
	admin := connect(t, shared.admin)
	if got := queryInt(t, admin, "SELECT count(*) FROM pg_database WHERE datname = $1", name); got != 0 {
		t.Errorf("database %q still exists after its test ended", name)
	}
}

func TestParallelDatabases(t *testing.T) {
	for i := range 6 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			conn := connect(t, NewDatabase(t))
			mustExec(t, conn, "INSERT INTO users (id, name, password_hash, created_at, updated_at) VALUES ('u', 'n', 'x', now(), now())")
		})
	}
}

func TestClusterStopStart(t *testing.T) {
	c := NewCluster(t)
	conn := connect(t, c.URL())
	mustExec(t, conn, "INSERT INTO users (id, name, password_hash, created_at, updated_at) VALUES ('u1', 'alice', 'x', now(), now())")
	conn.Close(context.Background())

	c.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, c.URL()); err == nil {
		conn.Close(ctx)
		t.Fatal("connected to a stopped cluster")
	}

	c.Start()
	conn = connect(t, c.URL())
	if got := queryInt(t, conn, "SELECT count(*) FROM users WHERE name = 'alice'"); got != 1 {
		t.Errorf("after restart: %d users named alice, want 1", got)
	}
}

// recorder stands in for a test to see whether the harness skips or fails.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped, r.msg = true, fmt.Sprintf(format, args...)
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
}
func (r *recorder) Fatal(args ...any) { r.failed, r.msg = true, fmt.Sprint(args...) }

func TestWithoutPostgres(t *testing.T) {
	emptyDir := t.TempDir()
	tests := []struct {
		name        string
		env         map[string]string
		wantSkipped bool
		wantFailed  bool
		wantMsg     string
	}{
		{"developer machine skips", nil, true, false, "POSTGRES TESTS SKIPPED"},
		{"CI fails", map[string]string{"CI": "true"}, false, true, "POSTGRES TESTS FAILED"},
		{"CI=false skips", map[string]string{"CI": "false"}, true, false, "POSTGRES TESTS SKIPPED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := lookup{
				getenv: func(k string) string { return tt.env[k] },
				bins:   pgcluster.Lookup{Path: emptyDir, Globs: []string{emptyDir + "/*/bin"}},
			}
			for _, call := range []struct {
				name string
				run  func(r *recorder)
			}{
				{"NewDatabase", func(r *recorder) {
					h := &harness{lookup: l}
					if got := h.newDatabase(r, true); got != "" {
						t.Errorf("got URL %q without Postgres", got)
					}
				}},
				{"NewCluster", func(r *recorder) {
					if c := l.newCluster(r); c != nil {
						t.Error("got a cluster without Postgres")
					}
				}},
			} {
				r := &recorder{TB: t}
				call.run(r)
				if r.skipped != tt.wantSkipped || r.failed != tt.wantFailed {
					t.Errorf("%s: skipped=%v failed=%v, want skipped=%v failed=%v", call.name, r.skipped, r.failed, tt.wantSkipped, tt.wantFailed)
				}
				if !strings.Contains(r.msg, tt.wantMsg) || !strings.Contains(r.msg, EnvURL) {
					t.Errorf("%s: message %q should contain %q and mention %s", call.name, r.msg, tt.wantMsg, EnvURL)
				}
			}
		})
	}
}

func TestWithExternalURL(t *testing.T) {
	// An external server is simulated by the shared cluster's admin URL.
	NewDatabase(t) // make sure the shared server runs
	l := lookup{getenv: func(k string) string {
		if k == EnvURL {
			return shared.admin
		}
		return ""
	}, bins: pgcluster.DefaultLookup()}
	h := &harness{lookup: l}
	t.Cleanup(h.close)
	conn := connect(t, h.newDatabase(t, true))
	if got := queryInt(t, conn, hasUsersTable); got != 1 {
		t.Errorf("users tables = %d, want 1", got)
	}

	// A dedicated cluster is still started, never skipped: the outage tests
	// stop it, which they cannot do to a server they share.
	r := &recorder{TB: t}
	c := l.newCluster(r)
	if r.skipped || r.failed || c == nil {
		t.Fatalf("NewCluster with %s set: skipped=%v failed=%v (%s), want a cluster of its own", EnvURL, r.skipped, r.failed, r.msg)
	}
	if portOf(t, c.URL()) == portOf(t, shared.admin) {
		t.Errorf("NewCluster with %s set: URL %s is on the external server %s, want a server of its own", EnvURL, c.URL(), shared.admin)
	}
	conn = connect(t, c.URL())
	if got := queryInt(t, conn, hasUsersTable); got != 1 {
		t.Errorf("dedicated cluster: users tables = %d, want 1 (migrated)", got)
	}
}

// portOf returns the port of a postgres:// URL.
func portOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Port() == "" {
		t.Fatalf("no port in %q: %v", raw, err)
	}
	return u.Port()
}
