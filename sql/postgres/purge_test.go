package postgres_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/sql/postgres"
)

// seedExpired stores n families that expired before now, each with depth
// tokens, straight through SQL.
func seedExpired(t *testing.T, conn *pgx.Conn, n, depth int, now time.Time) {
	t.Helper()
	_, err := conn.Exec(t.Context(), `
INSERT INTO clients (id, created_at) VALUES ('c1', $1);
`, now)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(t.Context(), `
INSERT INTO refresh_families (id, client_id, subject, auth_time, created_at, expires_at)
SELECT 'f' || i, 'c1', 'u' || (i % 7), $1::timestamptz, $1::timestamptz, $1::timestamptz - make_interval(secs => i) FROM generate_series(1, $2) i;
`, now, n)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(t.Context(), `
INSERT INTO refresh_tokens (hash, family_id, issued_at)
SELECT sha256(('f' || i || '/' || d)::bytea), 'f' || i, $1 FROM generate_series(1, $2) i, generate_series(1, $3) d;
`, now, n, depth)
	if err != nil {
		t.Fatal(err)
	}
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func count(t *testing.T, conn *pgx.Conn, query string) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(t.Context(), query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPurgeBatches checks that PurgeRefresh deletes a backlog in statements
// of at most the purge batch each (a statement trigger records how many
// families each deleting statement removed), tokens included.
func TestPurgeBatches(t *testing.T) {
	url := pgtest.NewDatabase(t)
	conn := connect(t, url)
	now := time.Now()
	seedExpired(t, conn, 50, 4, now)
	_, err := conn.Exec(t.Context(), `
CREATE TABLE purge_log (n int);
CREATE FUNCTION log_purge() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO purge_log SELECT count(*) FROM gone; RETURN NULL; END$$;
CREATE TRIGGER log_purge AFTER DELETE ON refresh_families
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION log_purge();`)
	if err != nil {
		t.Fatal(err)
	}
	const batch = 7
	s := open(t, url, postgres.WithPurgeBatch(batch))
	n, err := s.PurgeRefresh(t.Context(), now)
	if err != nil || n != 50 {
		t.Fatalf("PurgeRefresh = %d, %v; want 50, nil", n, err)
	}
	if got := count(t, conn, `SELECT count(*) FROM refresh_tokens`); got != 0 {
		t.Errorf("%d tokens left after purging every family", got)
	}
	if got := count(t, conn, `SELECT max(n) FROM purge_log`); got > batch {
		t.Errorf("one statement deleted %d families, want at most %d", got, batch)
	}
	if got, want := count(t, conn, `SELECT count(*) FROM purge_log WHERE n > 0`), (50+batch-1)/batch; got < want {
		t.Errorf("%d deleting statements, want at least %d", got, want)
	}
}

// purgeLockKey is the advisory lock PurgeRefresh holds while it runs.
func purgeLockKey() int64 {
	h := fnv.New64a()
	h.Write([]byte("rotor/purge/refresh_families"))
	return int64(h.Sum64())
}

// TestPurgeOneRunner checks that a replica finding another purging (its
// advisory lock held) returns at once and deletes nothing, and purges once
// the lock is free.
func TestPurgeOneRunner(t *testing.T) {
	url := pgtest.NewDatabase(t)
	conn := connect(t, url)
	now := time.Now()
	seedExpired(t, conn, 20, 2, now)
	if _, err := conn.Exec(t.Context(), `SELECT pg_advisory_lock($1)`, purgeLockKey()); err != nil {
		t.Fatal(err)
	}
	s := open(t, url)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if n, err := s.PurgeRefresh(ctx, now); err != nil || n != 0 {
		t.Fatalf("PurgeRefresh while another purges = %d, %v; want 0, nil", n, err)
	}
	if got := count(t, conn, `SELECT count(*) FROM refresh_families`); got != 20 {
		t.Fatalf("%d families left, want all 20", got)
	}
	if _, err := conn.Exec(t.Context(), `SELECT pg_advisory_unlock($1)`, purgeLockKey()); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PurgeRefresh(ctx, now); err != nil || n != 20 {
		t.Fatalf("PurgeRefresh = %d, %v; want 20, nil", n, err)
	}
	// The lock is released after the run: another handle can purge.
	var free bool
	if err := conn.QueryRow(t.Context(), `SELECT pg_try_advisory_lock($1)`, purgeLockKey()).Scan(&free); err != nil || !free {
		t.Fatalf("purge lock still held after PurgeRefresh returned (%v)", err)
	}
}

// TestPurgeSkipsLockedFamily checks that a purge does not wait for a family
// that a refresh holds: it deletes the others and leaves that one to the
// next purge.
func TestPurgeSkipsLockedFamily(t *testing.T) {
	url := pgtest.NewDatabase(t)
	conn := connect(t, url)
	now := time.Now()
	seedExpired(t, conn, 10, 1, now)
	s := open(t, url)
	hash := func(f string) []byte {
		var h []byte
		if err := conn.QueryRow(t.Context(), `SELECT hash FROM refresh_tokens WHERE family_id = $1`, f).Scan(&h); err != nil {
			t.Fatal(err)
		}
		return h
	}(fmt.Sprint("f", 3))
	inUse, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.UseRefresh(t.Context(), hash, func(idp.RefreshState) (idp.RefreshUpdate, error) {
			close(inUse)
			<-release
			return idp.RefreshUpdate{}, nil
		})
	}()
	<-inUse
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	n, err := s.PurgeRefresh(ctx, now)
	close(release)
	if err != nil || n != 9 {
		t.Fatalf("PurgeRefresh with one family in use = %d, %v; want 9, nil", n, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("UseRefresh: %v", err)
	}
	if n, err := s.PurgeRefresh(ctx, now); err != nil || n != 1 {
		t.Fatalf("next PurgeRefresh = %d, %v; want 1, nil", n, err)
	}
}
