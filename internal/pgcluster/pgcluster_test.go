package pgcluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestFindPrefersHighestVersion(t *testing.T) {
	root := t.TempDir()
	for _, v := range []string{"9.6", "15", "10"} {
		dir := filepath.Join(root, v, "bin")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, b := range []string{"initdb", "postgres"} {
			if err := os.WriteFile(filepath.Join(dir, b), nil, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := Lookup{Globs: []string{root + "/*/bin"}}.Find()
	if err != nil {
		t.Fatal(err)
	}
	if want := root + "/15/bin/initdb"; got.Initdb != want {
		t.Errorf("Initdb = %q, want %q", got.Initdb, want)
	}
	var missing *MissingError
	if _, err := (Lookup{}).Find(); !errors.As(err, &missing) {
		t.Errorf("no directories: err = %v, want a *MissingError", err)
	}
}

func TestWithDatabase(t *testing.T) {
	tests := []struct{ admin, want string }{
		{"postgres://u:p@h:5/postgres?sslmode=disable", "postgres://u:p@h:5/x?sslmode=disable"},
		{"postgresql://h/", "postgresql://h/x"},
		{"host=h user=u", "host=h user=u dbname=x"},
	}
	for _, tt := range tests {
		t.Run(tt.admin, func(t *testing.T) {
			if got := WithDatabase(tt.admin, "x"); got != tt.want {
				t.Errorf("WithDatabase(%q) = %q, want %q", tt.admin, got, tt.want)
			}
		})
	}
}

// newMigrated starts a cluster or skips without Postgres (fails under
// CI=true, where Postgres must be installed).
func newMigrated(t *testing.T) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := NewMigrated(ctx, DefaultLookup(), "rotor")
	var missing *MissingError
	if errors.As(err, &missing) && os.Getenv("CI") != "true" {
		t.Skipf("POSTGRES TESTS SKIPPED: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func countUsersTables(t *testing.T, url string) (int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'users'").Scan(&n)
	return n, err
}

// TestNewMigratedLifecycle starts a migrated cluster, stops and restarts it
// on the same URL, and checks that Destroy stops the server and removes its
// files.
func TestNewMigratedLifecycle(t *testing.T) {
	c := newMigrated(t)
	t.Cleanup(c.Destroy)
	if n, err := countUsersTables(t, c.URL("rotor")); err != nil || n != 1 {
		t.Fatalf("users tables = %d (%v), want 1: the database is migrated", n, err)
	}
	c.Stop()
	if _, err := countUsersTables(t, c.URL("rotor")); err == nil {
		t.Fatal("connected to a stopped cluster")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if n, err := countUsersTables(t, c.URL("rotor")); err != nil || n != 1 {
		t.Fatalf("after Start: users tables = %d (%v), want 1", n, err)
	}
	c.Destroy()
	if _, err := os.Stat(c.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster directory %s after Destroy: %v, want it gone", c.dir, err)
	}
	if _, err := countUsersTables(t, c.URL("rotor")); err == nil {
		t.Error("connected to a destroyed cluster")
	}
}
