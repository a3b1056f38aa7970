package sqlite_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/keys"
	"github.com/rotor-idp/rotor/sql/sqlite"
)

var testTime = time.Date(2026, 3, 1, 12, 0, 0, 654321000, time.UTC)

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func testKey(kid string, alg keys.Alg, state keys.State) keys.Record {
	return keys.Record{
		KID: kid, Alg: alg, State: state,
		PublicJWK: fmt.Appendf(nil, `{"kty":"OKP","crv":"Ed25519","x":%q}`, kid),
		Sealed:    []byte("sealed " + kid), KEKID: "kek-1", CreatedAt: testTime,
	}
}

func mustCreateClient(t *testing.T, s *sqlite.Store, id string) {
	t.Helper()
	if err := s.CreateClient(t.Context(), idp.Client{ID: id, SecretHash: hashOf(id), CreatedAt: testTime}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
}

// rawDB opens the database file directly, for checks the store's API cannot
// make.
func rawDB(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "rotor.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "rotor-data")
	s := open(t, dir)
	if s.Dir() != dir {
		t.Errorf("Dir() = %q, want %q", s.Dir(), dir)
	}
	mustCreateClient(t, s, "c1") // so that the -wal file exists
	for name, want := range map[string]os.FileMode{"": 0o700 | os.ModeDir, "rotor.db": 0o600, "rotor.db-wal": 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := fi.Mode() & (os.ModePerm | os.ModeDir); got != want {
			t.Errorf("%q: mode %v, want %v", name, got, want)
		}
	}
	var mode string
	if err := rawDB(t, dir).QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
}

func TestPersistsAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	u := idp.User{ID: "u1", Name: "alice", PasswordHash: "h", CreatedAt: testTime, UpdatedAt: testTime}
	c := idp.Client{ID: "c1", Public: true, GrantTypes: []string{"refresh_token"}, Scopes: []string{"a", "b"}, CreatedAt: testTime}
	f := idp.Family{ID: "f1", ClientID: "c1", Subject: "u1", Scope: "a", AuthTime: testTime, CreatedAt: testTime, ExpiresAt: testTime.Add(time.Hour)}
	tok := idp.RefreshToken{Hash: hashOf("t"), FamilyID: "f1", IssuedAt: testTime}
	k := testKey("k1", keys.RS256, keys.StateCurrent)
	err = errors.Join(
		s.CreateUser(ctx, u), s.CreateClient(ctx, c), s.CreateFamily(ctx, f, tok),
		s.UpdateLane(ctx, keys.RS256, func([]keys.Record) (keys.Change, error) { return keys.Change{Insert: []keys.Record{k}}, nil }),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	s = open(t, dir)
	gotU, err1 := s.UserByName(ctx, "alice")
	gotC, err2 := s.ClientByID(ctx, "c1")
	gotSt, err3 := s.LookupRefresh(ctx, tok.Hash)
	gotK, err4 := s.Keys(ctx)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		t.Fatal(err)
	}
	type all struct {
		U idp.User
		C idp.Client
		S idp.RefreshState
		K []keys.Record
	}
	want := all{u, c, idp.RefreshState{Family: f, Token: tok}, []keys.Record{k}}
	if d := cmp.Diff(want, all{gotU, gotC, gotSt, gotK}); d != "" {
		t.Errorf("after reopening (-want +got):\n%s", d)
	}
}

func TestTimesRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		t    time.Time
	}{
		{"zero", time.Time{}},
		{"epoch", time.Unix(0, 0)},
		{"before 1970", time.Date(1969, 7, 20, 20, 17, 40, 1000, time.UTC)},
		{"microseconds", testTime},
		{"other zone", time.Date(2026, 3, 1, 13, 0, 0, 999999000, time.FixedZone("CET", 3600))},
		{"far future", time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)},
	}
	s := open(t, t.TempDir())
	mustCreateClient(t, s, "c1")
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// CreatedAt is NOT NULL, RevokedAt and SpentAt are nullable.
			f := idp.Family{ID: fmt.Sprint("f", i), ClientID: "c1", Subject: "u", CreatedAt: tt.t, AuthTime: tt.t, ExpiresAt: tt.t, RevokedAt: tt.t}
			if !tt.t.IsZero() {
				f.RevokeReason = "r"
			}
			tok := idp.RefreshToken{Hash: hashOf(tt.name), FamilyID: f.ID, IssuedAt: tt.t, SpentAt: tt.t}
			if err := s.CreateFamily(t.Context(), f, tok); err != nil {
				t.Fatal(err)
			}
			got, err := s.LookupRefresh(t.Context(), tok.Hash)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(idp.RefreshState{Family: f, Token: tok}, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			for _, ts := range []time.Time{got.Family.CreatedAt, got.Family.RevokedAt, got.Token.SpentAt} {
				if ts.IsZero() != tt.t.IsZero() || ts.Location() != time.UTC {
					t.Errorf("read back %v (zero %v), want %v in UTC", ts, ts.IsZero(), tt.t)
				}
			}
		})
	}
}

// TestRefusesBadFiles checks that Open names the path and leaves the file
// exactly as it was, whatever is wrong with it. The calls run as the
// file's owner, an unprivileged user when this process is root (see
// permEnv), so that permissions stop them.
func TestRefusesBadFiles(t *testing.T) {
	garbage := bytes.Repeat([]byte("not a database "), 300)
	tests := []struct {
		name    string
		make    func(t *testing.T, path string)
		wantErr string
	}{
		{"garbage", func(t *testing.T, path string) { write(t, path, garbage) }, "is not an SQLite database"},
		{"short header", func(t *testing.T, path string) { write(t, path, []byte("SQLite format 3\x00")) }, "is not an SQLite database"},
		{"corrupt pages", func(t *testing.T, path string) {
			b := rotorDB(t, path)
			// Keep the 100-byte header, trash the schema table on page 1 and
			// everything after it.
			copy(b[100:], bytes.Repeat([]byte{0xA5}, len(b)-100))
			write(t, path, b)
		}, "is corrupt or not a database"},
		{"someone else's database", func(t *testing.T, path string) {
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(`CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep me')`); err != nil {
				t.Fatal(err)
			}
		}, "is an SQLite database but not Rotor's"},
		{"newer schema", func(t *testing.T, path string) {
			rotorDB(t, path)
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (9999, 1)`); err != nil {
				t.Fatal(err)
			}
		}, "has schema version 9999, newer than this Rotor knows"},
		{"a directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "is not a regular file"},
		{"unreadable", func(t *testing.T, path string) {
			rotorDB(t, path)
			chmod(t, path, 0o200)
		}, "must be readable and writable"},
	}
	env := newPermEnv(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := env.dir(t, "data")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "rotor.db")
			tt.make(t, path)
			env.own(t, dir)
			before := snapshot(t, path)

			got := env.calls(t, dir)
			t.Logf("Open: %s", got.open)
			if got.open == "" {
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(got.open, path) || !strings.Contains(got.open, tt.wantErr) {
				t.Errorf("Open error = %q\nwant one naming %s and saying %q", got.open, path, tt.wantErr)
			}
			if got.migrate == "" {
				t.Error("Migrate succeeded")
			}
			if !bytes.Equal(before, snapshot(t, path)) {
				t.Error("the file changed")
			}
		})
	}
}

// rotorDB makes a real, closed Rotor database at path and returns its bytes.
func rotorDB(t *testing.T, path string) []byte {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	mustCreateClient(t, s, "c1")
	if err := s.Close(); err != nil { // checkpoints the WAL into the file
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// snapshot is what identifies the file's state: its mode, size and
// modification time, and its content when it can be read.
func snapshot(t *testing.T, path string) []byte {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	b := fmt.Appendf(nil, "%v %d %v\n", fi.Mode(), fi.Size(), fi.ModTime())
	if fi.Mode().IsRegular() {
		if content, err := os.ReadFile(path); err == nil {
			b = append(b, content...)
		}
	}
	return b
}

// TestRefusesBadDirectories: Open and Lock refuse a data directory they
// cannot use, naming it. Like TestRefusesBadFiles, the calls run as the
// directory's unprivileged owner when this process is root.
func TestRefusesBadDirectories(t *testing.T) {
	tests := []struct {
		name    string
		dir     func(t *testing.T, e *permEnv) string
		wantErr string
	}{
		{"a regular file", func(t *testing.T, e *permEnv) string {
			path := e.dir(t, "file")
			write(t, path, []byte("x"))
			return path
		}, "is not a directory"},
		{"under a regular file", func(t *testing.T, e *permEnv) string {
			path := e.dir(t, "file")
			write(t, path, []byte("x"))
			return filepath.Join(path, "data")
		}, "not a directory"},
		{"not writable", func(t *testing.T, e *permEnv) string {
			dir := e.dir(t, "data")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			chmod(t, dir, 0o500)
			return dir
		}, "is not writable"},
		{"not accessible", func(t *testing.T, e *permEnv) string {
			dir := e.dir(t, "locked")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			chmod(t, dir, 0)
			return dir
		}, "permission denied"},
	}
	env := newPermEnv(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := tt.dir(t, env)
			env.own(t, filepath.Dir(dir))
			got := env.calls(t, dir)
			t.Logf("Open: %s", got.open)
			if got.open == "" {
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(got.open, dir) || !strings.Contains(got.open, tt.wantErr) {
				t.Errorf("Open error = %q\nwant one naming %s and saying %q", got.open, dir, tt.wantErr)
			}
			if got.lock == "" || !strings.Contains(got.lock, dir) {
				t.Errorf("Lock error = %q, want one naming %s", got.lock, dir)
			}
		})
	}
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(path, 0o700) }) // so that TempDir can remove it
}

func TestMigrateIdempotentAndConcurrent(t *testing.T) {
	dir := t.TempDir()
	const n = 6
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			if i%2 == 0 {
				errs[i] = sqlite.Migrate(t.Context(), dir)
				return
			}
			s, err := sqlite.Open(t.Context(), dir)
			if err == nil {
				err = errors.Join(s.Ping(t.Context()), s.Close())
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent migrations: %v", err)
	}
	if err := sqlite.Migrate(t.Context(), dir); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}

	rows, err := rawDB(t, dir).Query(`SELECT version_id FROM goose_db_version WHERE is_applied ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var versions []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v)
	}
	if d := cmp.Diff(migrationVersions(t), versions); d != "" {
		t.Errorf("applied versions (-want +got):\n%s", d)
	}
}

// holdWriteLock keeps a write transaction open on s until the test ends or
// the returned release is called.
func holdWriteLock(t *testing.T, s *sqlite.Store, token []byte) (release func()) {
	t.Helper()
	held, done := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- s.UseRefresh(context.Background(), token, func(idp.RefreshState) (idp.RefreshUpdate, error) {
			close(held)
			<-done
			return idp.RefreshUpdate{}, nil
		})
	}()
	select {
	case <-held:
	case err := <-errc:
		t.Fatalf("UseRefresh: %v", err)
	case <-time.After(processDeadline):
		t.Fatal("write lock not taken")
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			close(done)
			if err := <-errc; err != nil {
				t.Errorf("lock holder: %v", err)
			}
		})
	}
	t.Cleanup(release)
	return release
}

// TestLockedDatabase checks what callers see while another process holds
// the write lock: writes give up with ErrUnavailable (and UpdateLane with
// ErrLaneBusy) once their deadline or the busy timeout passes, while reads,
// and refresh tokens that do not exist, are answered without waiting.
func TestLockedDatabase(t *testing.T) {
	dir := t.TempDir()
	// The holder's call timeout outlasts the test: the lock must stay held
	// while the others' calls run, however long they take.
	holder := open(t, dir, sqlite.WithCallTimeout(time.Hour))
	mustCreateClient(t, holder, "c1")
	tok := idp.RefreshToken{Hash: hashOf("t"), IssuedAt: testTime}
	f := idp.Family{ID: "f1", ClientID: "c1", Subject: "u1", CreatedAt: testTime, AuthTime: testTime, ExpiresAt: testTime.Add(time.Hour)}
	if err := holder.CreateFamily(t.Context(), f, tok); err != nil {
		t.Fatal(err)
	}
	holdWriteLock(t, holder, tok.Hash)

	short := func(t *testing.T) context.Context {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}
	user := idp.User{ID: "u1", Name: "alice", CreatedAt: testTime, UpdatedAt: testTime}
	laneFn := func([]keys.Record) (keys.Change, error) { return keys.Change{}, nil }
	useFn := func(idp.RefreshState) (idp.RefreshUpdate, error) { return idp.RefreshUpdate{}, nil }

	waits := []struct {
		name  string
		opts  []sqlite.Option
		ctx   func(*testing.T) context.Context
		cause string
	}{
		{"caller deadline", nil, short, context.DeadlineExceeded.Error()},
		{"default call timeout", []sqlite.Option{sqlite.WithCallTimeout(200 * time.Millisecond)}, func(t *testing.T) context.Context { return context.Background() }, context.DeadlineExceeded.Error()},
		{"busy timeout", []sqlite.Option{sqlite.WithBusyTimeout(50 * time.Millisecond)}, func(t *testing.T) context.Context { return t.Context() }, "is locked by another connection"},
	}
	for _, w := range waits {
		t.Run(w.name, func(t *testing.T) {
			s := open(t, dir, w.opts...)
			calls := []struct {
				name string
				call func(context.Context) error
				also error
			}{
				{"CreateUser", func(ctx context.Context) error { return s.CreateUser(ctx, user) }, nil},
				{"UseRefresh", func(ctx context.Context) error { return s.UseRefresh(ctx, tok.Hash, useFn) }, nil},
				{"UpdateLane", func(ctx context.Context) error { return s.UpdateLane(ctx, keys.RS256, laneFn) }, keys.ErrLaneBusy},
			}
			for _, c := range calls {
				began := time.Now()
				err := c.call(w.ctx(t))
				t.Logf("%s: %v", c.name, err)
				if !errors.Is(err, idp.ErrUnavailable) || (c.also != nil && !errors.Is(err, c.also)) || !strings.Contains(err.Error(), w.cause) {
					t.Errorf("%s = %v; want ErrUnavailable (and %v) saying %q", c.name, err, c.also, w.cause)
				}
				if took := time.Since(began); took > 10*time.Second {
					t.Errorf("%s took %v", c.name, took)
				}
			}
		})
	}

	t.Run("reads and unknown tokens do not wait", func(t *testing.T) {
		// The write lock is held until the test ends, so a call that
		// queued for it could only end in an error (the busy or call
		// timeout, 5s each); an answer proves it did not wait, whatever
		// the clock says on a loaded machine.
		s := open(t, dir)
		ctx := t.Context()
		if _, err := s.LookupRefresh(ctx, tok.Hash); err != nil {
			t.Errorf("LookupRefresh: %v", err)
		}
		if _, err := s.ClientByID(ctx, "c1"); err != nil {
			t.Errorf("ClientByID: %v", err)
		}
		called := false
		err := s.UseRefresh(ctx, hashOf("unknown"), func(idp.RefreshState) (idp.RefreshUpdate, error) {
			called = true
			return idp.RefreshUpdate{}, nil
		})
		if !errors.Is(err, idp.ErrNotFound) || called {
			t.Errorf("UseRefresh(unknown) = %v (fn called: %v), want ErrNotFound without waiting", err, called)
		}
	})
}

func TestWatchKeysEndsOnClose(t *testing.T) {
	s, err := sqlite.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		close(started)
		done <- s.WatchKeys(context.Background(), func() {})
	}()
	<-started
	s.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("WatchKeys returned nil after Close")
		}
	case <-time.After(processDeadline):
		t.Fatal("WatchKeys did not return after Close")
	}
}

func TestErrorsNameNoSecrets(t *testing.T) {
	s := open(t, t.TempDir())
	mustCreateClient(t, s, "c1")
	secret := hashOf("t")
	f := idp.Family{ID: "f1", ClientID: "c1", Subject: "u1", CreatedAt: testTime, AuthTime: testTime, ExpiresAt: testTime.Add(time.Hour)}
	if err := s.CreateFamily(t.Context(), f, idp.RefreshToken{Hash: secret, IssuedAt: testTime}); err != nil {
		t.Fatal(err)
	}
	f.ID = "f2"
	errs := []error{
		s.CreateFamily(t.Context(), f, idp.RefreshToken{Hash: secret, IssuedAt: testTime}),
		s.UseRefresh(t.Context(), hashOf("unknown"), nil),
		s.UseRefresh(t.Context(), secret, func(idp.RefreshState) (idp.RefreshUpdate, error) {
			return idp.RefreshUpdate{Issue: &idp.RefreshToken{Hash: secret, IssuedAt: testTime}}, nil
		}),
		s.UpdateLane(t.Context(), keys.RS256, func([]keys.Record) (keys.Change, error) {
			k := testKey("k", keys.RS256, keys.StateNext)
			return keys.Change{Insert: []keys.Record{k, k}}, nil
		}),
	}
	for i, err := range errs {
		if err == nil {
			t.Errorf("call %d succeeded", i)
			continue
		}
		msg := err.Error()
		for _, leak := range []string{fmt.Sprintf("%x", secret), string(secret), "sealed k"} {
			if strings.Contains(msg, leak) {
				t.Errorf("error %q contains secret material", msg)
			}
		}
	}
}

// TestSuccessorIsLastIssued: the successor is the child inserted last even
// if the clock stepped back between two children (beyond the suite, which
// only ties their times).
func TestSuccessorIsLastIssued(t *testing.T) {
	s := open(t, t.TempDir())
	mustCreateClient(t, s, "c1")
	first := idp.RefreshToken{Hash: hashOf("first"), FamilyID: "f1", IssuedAt: testTime}
	f := idp.Family{ID: "f1", ClientID: "c1", Subject: "u1", AuthTime: testTime, CreatedAt: testTime, ExpiresAt: testTime.Add(time.Hour)}
	if err := s.CreateFamily(t.Context(), f, first); err != nil {
		t.Fatal(err)
	}
	children := []idp.RefreshToken{
		{Hash: hashOf("a"), FamilyID: "f1", Parent: first.Hash, IssuedAt: testTime.Add(time.Minute)},
		{Hash: hashOf("b"), FamilyID: "f1", Parent: first.Hash, IssuedAt: testTime.Add(time.Second)}, // clock stepped back
	}
	for _, c := range children {
		err := s.UseRefresh(t.Context(), first.Hash, func(idp.RefreshState) (idp.RefreshUpdate, error) {
			return idp.RefreshUpdate{Issue: &c}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.LookupRefresh(t.Context(), first.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(&children[1], st.Successor); d != "" {
		t.Errorf("successor (-want +got):\n%s", d)
	}
}

// TestCorruptionFoundLater: damage in pages Open does not read surfaces on
// the first call that reads them, as an error naming the file, not as "not
// found".
func TestCorruptionFoundLater(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rotor.db")
	s, err := sqlite.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	mustCreateClient(t, s, "c1")
	tok := idp.RefreshToken{Hash: hashOf("t"), IssuedAt: testTime}
	f := idp.Family{ID: "f1", ClientID: "c1", Subject: "u1", AuthTime: testTime, CreatedAt: testTime, ExpiresAt: testTime.Add(time.Hour)}
	if err := errors.Join(s.CreateFamily(t.Context(), f, tok), s.Close()); err != nil {
		t.Fatal(err)
	}

	// Trash the pages of refresh_tokens and its indexes.
	var pageSize int64
	var roots []int64
	db := rawDB(t, dir)
	if err := db.QueryRow("PRAGMA page_size").Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT rootpage FROM sqlite_schema WHERE tbl_name = 'refresh_tokens' AND rootpage > 0`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p int64
		if err := rows.Scan(&p); err != nil {
			t.Fatal(err)
		}
		roots = append(roots, p)
	}
	rows.Close()
	db.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range roots {
		copy(b[(p-1)*pageSize:p*pageSize], bytes.Repeat([]byte{0x5A}, int(pageSize)))
	}
	write(t, path, b)

	s = open(t, dir)
	_, err = s.LookupRefresh(t.Context(), tok.Hash)
	t.Logf("LookupRefresh: %v", err)
	if err == nil || errors.Is(err, idp.ErrNotFound) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "is corrupt") {
		t.Errorf("LookupRefresh on a damaged table = %v, want an error naming %s as corrupt", err, path)
	}
}

// migrationVersions is 0 (goose's own) and the version of every migration
// file, in order.
func migrationVersions(t *testing.T) []int64 {
	t.Helper()
	entries, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{0}
	for _, e := range entries {
		var v int64
		if _, err := fmt.Sscanf(e.Name(), "%d_", &v); err == nil && strings.HasSuffix(e.Name(), ".sql") {
			want = append(want, v)
		}
	}
	return want
}
