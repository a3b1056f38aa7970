package postgres_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/keys"
	"github.com/rotor-idp/rotor/sql/postgres"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// seed creates a client, a user, a family and a key to operate on.
func seed(t *testing.T, s *postgres.Store) (token []byte) {
	t.Helper()
	ctx := t.Context()
	token = []byte("token-hash-0123456789abcdef012345")
	steps := []error{
		s.CreateClient(ctx, idp.Client{ID: "c1", SecretHash: []byte("client-secret-hash"), CreatedAt: t0}),
		s.CreateUser(ctx, idp.User{ID: "u1", Name: "alice", PasswordHash: "alice-password-hash", CreatedAt: t0, UpdatedAt: t0}),
		s.CreateFamily(ctx,
			idp.Family{ID: "f1", ClientID: "c1", Subject: "u1", AuthTime: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
			idp.RefreshToken{Hash: token, FamilyID: "f1", IssuedAt: t0}),
		s.UpdateLane(ctx, keys.EdDSA, func([]keys.Record) (keys.Change, error) {
			return keys.Change{Insert: []keys.Record{{KID: "k1", Alg: keys.EdDSA, State: keys.StateCurrent, PublicJWK: []byte("{}"), Sealed: []byte("sealed-private-key"), KEKID: "kek", CreatedAt: t0}}}, nil
		}),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("seed step %d: %v", i, err)
		}
	}
	return token
}

// operation is one call of every store method, repeatable any number of
// times.
type operation struct {
	name string
	call func(ctx context.Context) error
}

func operations(s *postgres.Store, token []byte) []operation {
	var n atomic.Int64
	unique := func(prefix string) string { return fmt.Sprintf("%s-%d", prefix, n.Add(1)) }
	noUpdate := func(idp.RefreshState) (idp.RefreshUpdate, error) { return idp.RefreshUpdate{}, nil }
	noChange := func([]keys.Record) (keys.Change, error) { return keys.Change{}, nil }
	return []operation{
		{"Ping", s.Ping},
		{"CreateUser", func(ctx context.Context) error {
			name := unique("user")
			return s.CreateUser(ctx, idp.User{ID: name, Name: name, CreatedAt: t0, UpdatedAt: t0})
		}},
		{"UserByName", func(ctx context.Context) error { _, err := s.UserByName(ctx, "alice"); return err }},
		{"Users", func(ctx context.Context) error { _, err := s.Users(ctx); return err }},
		{"SetUserDisabled", func(ctx context.Context) error { return s.SetUserDisabled(ctx, "alice", false, t0) }},
		{"SetPassword", func(ctx context.Context) error { return s.SetPassword(ctx, "alice", "alice-password-hash", t0) }},
		{"RehashPassword", func(ctx context.Context) error {
			_, err := s.RehashPassword(ctx, "u1", "alice-password-hash", "alice-password-hash", t0)
			return err
		}},
		{"CreateClient+DeleteClient", func(ctx context.Context) error {
			id := unique("client")
			if err := s.CreateClient(ctx, idp.Client{ID: id, Public: true, CreatedAt: t0}); err != nil {
				return err
			}
			return s.DeleteClient(ctx, id)
		}},
		{"ClientByID", func(ctx context.Context) error { _, err := s.ClientByID(ctx, "c1"); return err }},
		{"Clients", func(ctx context.Context) error { _, err := s.Clients(ctx); return err }},
		{"CreateFamily", func(ctx context.Context) error {
			id := unique("family")
			return s.CreateFamily(ctx,
				// The other operations change alice's credentials; a
				// subject that is no user is never refused for that.
				idp.Family{ID: id, ClientID: "c1", Subject: "svc", AuthTime: t0, CreatedAt: t0, ExpiresAt: t0},
				idp.RefreshToken{Hash: []byte(id), IssuedAt: t0})
		}},
		{"UseRefresh", func(ctx context.Context) error { return s.UseRefresh(ctx, token, noUpdate) }},
		{"LookupRefresh", func(ctx context.Context) error { _, err := s.LookupRefresh(ctx, token); return err }},
		{"RevokeFamily", func(ctx context.Context) error { return s.RevokeFamily(ctx, "f1", "test", t0) }},
		{"PurgeRefresh", func(ctx context.Context) error { _, err := s.PurgeRefresh(ctx, t0.Add(-time.Hour)); return err }},
		{"Keys", func(ctx context.Context) error { _, err := s.Keys(ctx); return err }},
		{"UpdateLane", func(ctx context.Context) error { return s.UpdateLane(ctx, keys.EdDSA, noChange) }},
		{"RewrapKeys", func(ctx context.Context) error {
			return s.RewrapKeys(ctx, []keys.Record{{KID: "k1", Sealed: []byte("sealed-private-key"), KEKID: "kek"}})
		}},
	}
}

// TestOutage takes the database away under load and brings it back: every
// failure must be ErrUnavailable, no call may hang, and the same Store must
// work again once the server is back.
func TestOutage(t *testing.T) {
	c := pgtest.NewCluster(t)
	s := open(t, c.URL(), postgres.WithCallTimeout(3*time.Second))
	token := seed(t, s)
	ops := operations(s, token)
	for _, op := range ops {
		if err := op.call(context.Background()); err != nil {
			t.Fatalf("%s before the outage: %v", op.name, err)
		}
	}

	// A watcher, which must report the broken subscription.
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	watching := make(chan struct{}, 1)
	watchDone := make(chan error, 1)
	go func() {
		watchDone <- s.WatchKeys(watchCtx, func() {
			select {
			case watching <- struct{}{}:
			default:
			}
		})
	}()
	select {
	case <-watching: // the initial call: it listens
	case <-time.After(10 * time.Second):
		t.Fatal("WatchKeys never started listening")
	}

	// Load on every operation while the server goes down and comes back.
	var (
		stopLoad = make(chan struct{})
		wg       sync.WaitGroup
		mu       sync.Mutex
		bad      []string
		okAfter  atomic.Int64
		restart  atomic.Bool
	)
	for i := range 4 {
		wg.Go(func() {
			for j := i; ; j++ {
				select {
				case <-stopLoad:
					return
				default:
				}
				op := ops[j%len(ops)]
				err := op.call(context.Background())
				switch {
				case err == nil:
					if restart.Load() {
						okAfter.Add(1)
					}
				case !errors.Is(err, idp.ErrUnavailable) && !(op.name == "UpdateLane" && errors.Is(err, keys.ErrLaneBusy)):
					mu.Lock()
					bad = append(bad, fmt.Sprintf("%s: %v", op.name, err))
					mu.Unlock()
				}
			}
		})
	}

	c.Stop()

	select {
	case err := <-watchDone:
		if err == nil || errors.Is(err, context.Canceled) {
			t.Errorf("WatchKeys after the server stopped = %v, want a subscription error", err)
		} else if !errors.Is(err, idp.ErrUnavailable) {
			t.Errorf("WatchKeys after the server stopped = %v, want ErrUnavailable", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("WatchKeys did not notice the server stopping")
	}

	for _, op := range ops {
		t.Run("down/"+op.name, func(t *testing.T) {
			start := time.Now()
			err := op.call(context.Background())
			if !errors.Is(err, idp.ErrUnavailable) {
				t.Errorf("err = %v, want ErrUnavailable", err)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %v; calls must fail fast", took)
			}
		})
	}
	if err := s.WatchKeys(context.Background(), func() {}); !errors.Is(err, idp.ErrUnavailable) {
		t.Errorf("WatchKeys while down = %v, want ErrUnavailable", err)
	}

	c.Start()
	restart.Store(true)
	await(t, 30*time.Second, "the store to reconnect", func() bool { return s.Ping(context.Background()) == nil })
	for _, op := range ops {
		t.Run("up/"+op.name, func(t *testing.T) {
			if err := op.call(context.Background()); err != nil {
				t.Errorf("after restart: %v", err)
			}
		})
	}
	await(t, 30*time.Second, "the load to succeed again", func() bool { return okAfter.Load() >= 10 })
	close(stopLoad)
	wg.Wait()
	for _, b := range bad {
		t.Errorf("under load: error not marked ErrUnavailable: %s", b)
	}
}

// TestCallTimeout: a call whose context has no deadline still ends when a
// lock it needs is held elsewhere.
func TestCallTimeout(t *testing.T) {
	// The timeout is long enough that a call which takes no lock finishes
	// within it on a loaded machine; a call waiting for the lock never would.
	const timeout = 3 * time.Second
	url := pgtest.NewDatabase(t)
	s := open(t, url, postgres.WithCallTimeout(timeout))
	token := seed(t, s)

	holdInTx(t, url, `SELECT 1 FROM refresh_families WHERE id = 'f1' FOR UPDATE`)

	tests := []struct {
		name string
		call func() error
	}{
		{"UseRefresh", func() error {
			return s.UseRefresh(context.Background(), token, func(idp.RefreshState) (idp.RefreshUpdate, error) {
				t.Error("fn called without the family lock")
				return idp.RefreshUpdate{}, nil
			})
		}},
		{"RevokeFamily", func() error { return s.RevokeFamily(context.Background(), "f1", "x", t0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := tt.call()
			if !errors.Is(err, idp.ErrUnavailable) {
				t.Errorf("err = %v, want ErrUnavailable (timeout)", err)
			}
			if took := time.Since(start); took > 4*timeout {
				t.Errorf("took %v with a %v call timeout", took, timeout)
			}
		})
	}
	// The lookup takes no lock, so it is not held up.
	if _, err := s.LookupRefresh(context.Background(), token); err != nil {
		t.Errorf("LookupRefresh while the family is locked: %v", err)
	}
}

func TestLaneBusy(t *testing.T) {
	url := pgtest.NewDatabase(t)
	holder := open(t, url)
	waiter := open(t, url, postgres.WithCallTimeout(time.Second))

	inside, release, held := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		held <- holder.UpdateLane(context.Background(), keys.RS256, func([]keys.Record) (keys.Change, error) {
			close(inside)
			<-release // holds the lane; a test may block here
			return keys.Change{}, nil
		})
	}()
	<-inside

	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"caller deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Second)
		}},
		{"call timeout", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			err := waiter.UpdateLane(ctx, keys.RS256, func([]keys.Record) (keys.Change, error) {
				t.Error("fn called while another process holds the lane")
				return keys.Change{}, nil
			})
			if !errors.Is(err, keys.ErrLaneBusy) {
				t.Errorf("err = %v, want ErrLaneBusy", err)
			}
		})
	}
	// Other lanes are not held up.
	if err := waiter.UpdateLane(withTimeout(t, 10*time.Second), keys.EdDSA, func([]keys.Record) (keys.Change, error) { return keys.Change{}, nil }); err != nil {
		t.Errorf("UpdateLane(EdDSA) while RS256 is held: %v", err)
	}
	close(release)
	if err := <-held; err != nil {
		t.Errorf("holder: %v", err)
	}
	// And the waiter's connections are healthy afterwards.
	if err := waiter.UpdateLane(withTimeout(t, 10*time.Second), keys.RS256, func([]keys.Record) (keys.Change, error) { return keys.Change{}, nil }); err != nil {
		t.Errorf("UpdateLane after release: %v", err)
	}
}

// TestNoSecretsInErrors: password hashes, client-secret hashes, token hashes,
// sealed keys and database passwords never appear in error messages.
func TestNoSecretsInErrors(t *testing.T) {
	url := pgtest.NewDatabase(t)
	s := open(t, url)
	token := seed(t, s)
	secrets := map[string][]byte{
		"password hash":      []byte("alice-password-hash"),
		"other hash":         []byte("second-secret-hash"),
		"client secret hash": []byte("client-secret-hash"),
		"token hash":         token,
		"sealed key":         []byte("sealed-private-key"),
		"db password":        []byte("hunter2"),
	}
	ctx := t.Context()
	issue := &idp.RefreshToken{Hash: token, FamilyID: "f1", IssuedAt: t0}
	tests := []struct {
		name string
		err  error
	}{
		{"duplicate user", s.CreateUser(ctx, idp.User{ID: "u2", Name: "alice", PasswordHash: "second-secret-hash", CreatedAt: t0, UpdatedAt: t0})},
		{"public client with secret", s.CreateClient(ctx, idp.Client{ID: "c2", Public: true, SecretHash: []byte("client-secret-hash"), CreatedAt: t0})},
		{"duplicate client", s.CreateClient(ctx, idp.Client{ID: "c1", SecretHash: []byte("client-secret-hash"), CreatedAt: t0})},
		{"duplicate token in CreateFamily", s.CreateFamily(ctx,
			idp.Family{ID: "f2", ClientID: "c1", Subject: "u1", AuthTime: t0, CreatedAt: t0, ExpiresAt: t0},
			idp.RefreshToken{Hash: token, IssuedAt: t0})},
		{"duplicate token in UseRefresh", s.UseRefresh(ctx, token, func(idp.RefreshState) (idp.RefreshUpdate, error) {
			return idp.RefreshUpdate{Issue: issue}, nil
		})},
		{"unknown token", s.UseRefresh(ctx, []byte("second-secret-hash"), func(idp.RefreshState) (idp.RefreshUpdate, error) {
			return idp.RefreshUpdate{}, nil
		})},
		{"duplicate key", s.UpdateLane(ctx, keys.EdDSA, func([]keys.Record) (keys.Change, error) {
			return keys.Change{Insert: []keys.Record{{KID: "k1", Alg: keys.EdDSA, State: keys.StateNext, PublicJWK: []byte("{}"), Sealed: []byte("sealed-private-key"), KEKID: "kek", CreatedAt: t0}}}, nil
		})},
		{"bad URL", func() error {
			_, err := postgres.Open(ctx, "postgres://rotor:hunter2@127.0.0.1:notaport/rotor")
			return err
		}()},
		{"unreachable server", func() error {
			s, err := postgres.Open(ctx, "postgres://rotor:hunter2@127.0.0.1:1/rotor")
			if err != nil {
				return err
			}
			defer s.Close()
			return s.Ping(ctx)
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil {
				t.Fatal("no error")
			}
			msg := tt.err.Error()
			for what, v := range secrets {
				for _, enc := range []string{string(v), hex.EncodeToString(v), base64.StdEncoding.EncodeToString(v), base64.RawURLEncoding.EncodeToString(v)} {
					if strings.Contains(msg, enc) {
						t.Errorf("error %q contains the %s", msg, what)
					}
				}
			}
		})
	}
}

func TestDefaultMaxConns(t *testing.T) {
	if n := postgres.DefaultMaxConns(); n < 4 || n > 32 {
		t.Errorf("DefaultMaxConns() = %d, want within [4, 32]", n)
	}
}

// await polls cond until it holds, failing the test after timeout.
func await(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

func withTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
