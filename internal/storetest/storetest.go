package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/keys"
)

// Stores is what one implementation provides, all over one database: users,
// sessions, codes, consents and refresh families must share it, since
// revoking one revokes the others in the same transaction.
type Stores struct {
	Users    idp.UserStore
	Clients  idp.ClientStore
	Refresh  idp.RefreshStore
	Sessions idp.SessionStore
	Codes    idp.CodeStore
	Consents idp.ConsentStore
	Keys     keys.Store
	Replay   idp.ReplayStore
	// Watcher tells replicas about key changes other processes commit.
	// Every store must have one (several processes share each kind: the
	// replicas, and the admin commands): the Watcher suite fails without.
	Watcher keys.Watcher
	// Reopen opens another handle on the same database, as another process
	// would, closed when t ends; concurrency tests spread their goroutines
	// over both handles. Nil if the implementation cannot do that.
	Reopen func(t *testing.T) Stores
}

// Open opens an implementation over a fresh, empty, ready-to-use database
// that no other test shares, and closes it when t ends.
type Open func(t *testing.T) Stores

// Run runs every suite.
func Run(t *testing.T, open Open) {
	t.Run("UserStore", func(t *testing.T) { TestUserStore(t, open) })
	t.Run("ClientStore", func(t *testing.T) { TestClientStore(t, open) })
	t.Run("RefreshStore", func(t *testing.T) { TestRefreshStore(t, open) })
	t.Run("Purge", func(t *testing.T) { TestPurge(t, open) })
	t.Run("FamilyLimit", func(t *testing.T) { TestFamilyLimit(t, open) })
	t.Run("RevocationRaces", func(t *testing.T) { TestRevocationRaces(t, open) })
	t.Run("CredentialVersion", func(t *testing.T) { TestCredentialVersion(t, open) })
	t.Run("SessionStore", func(t *testing.T) { TestSessionStore(t, open) })
	t.Run("CodeStore", func(t *testing.T) { TestCodeStore(t, open) })
	t.Run("CodeExchange", func(t *testing.T) { TestCodeExchange(t, open) })
	t.Run("SessionCode", func(t *testing.T) { TestSessionCode(t, open) })
	t.Run("ConsentStore", func(t *testing.T) { TestConsentStore(t, open) })
	t.Run("ReplayStore", func(t *testing.T) { TestReplayStore(t, open) })
	t.Run("KeyStore", func(t *testing.T) { TestKeyStore(t, open) })
	t.Run("Watcher", func(t *testing.T) { TestWatcher(t, open) })
	t.Run("TimePrecision", func(t *testing.T) { TestTimePrecision(t, open) })
}

// base is the suites' clock, at microseconds so that the suites compare
// what they stored with what they read; TestTimePrecision checks what
// stores do with finer times.
var base = time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

// equateEmpty treats nil and empty slices alike: the contracts do not say
// which a store returns for "none".
var equateEmpty = cmpopts.EquateEmpty()

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// handles returns the store handles that concurrent tests spread over: two
// when the implementation can reopen, else one.
func handles(t *testing.T, s Stores) []Stores {
	if s.Reopen == nil {
		return []Stores{s}
	}
	return []Stores{s, s.Reopen(t)}
}

func mustCreateClient(t *testing.T, s Stores, id string) {
	t.Helper()
	c := idp.Client{ID: id, SecretHash: hashOf("secret " + id), GrantTypes: []string{"password", "refresh_token"}, CreatedAt: base}
	if err := s.Clients.CreateClient(t.Context(), c); err != nil {
		t.Fatalf("CreateClient(%s): %v", id, err)
	}
}

func mustCreateUser(t *testing.T, s Stores, id, name, hash string) idp.User {
	t.Helper()
	u := idp.User{ID: id, Name: name, PasswordHash: hash, CreatedAt: base, UpdatedAt: base}
	if err := s.Users.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%s): %v", name, err)
	}
	return u
}

// family returns a live family and its first token, named after id.
func family(id, clientID, subject string) (idp.Family, idp.RefreshToken) {
	f := idp.Family{
		ID: id, ClientID: clientID, Subject: subject, Scope: "openid schedules:read",
		AuthTime: at(-time.Minute), CreatedAt: base, ExpiresAt: at(30 * 24 * time.Hour),
	}
	return f, idp.RefreshToken{Hash: hashOf("token " + id), FamilyID: id, IssuedAt: base}
}

func mustCreateFamily(t *testing.T, s Stores, id, clientID, subject string) (idp.Family, idp.RefreshToken) {
	t.Helper()
	f, tok := family(id, clientID, subject)
	if err := s.Refresh.CreateFamily(t.Context(), f, tok); err != nil {
		t.Fatalf("CreateFamily(%s): %v", id, err)
	}
	return f, tok
}

func mustLookup(t *testing.T, s Stores, hash []byte) idp.RefreshState {
	t.Helper()
	st, err := s.Refresh.LookupRefresh(t.Context(), hash)
	if err != nil {
		t.Fatalf("LookupRefresh: %v", err)
	}
	return st
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: err = %v, want %v", what, err, want)
	}
}

// parallel runs fn(i, handle) on n goroutines released together, spreading
// them over the handles, and waits for all.
func parallel(n int, hs []Stores, fn func(i int, s Stores)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i, hs[i%len(hs)])
		})
	}
	close(start)
	wg.Wait()
}

// withTimeout is a context for calls that must not wait on a lock.
func withTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func diff(t *testing.T, what string, want, got any, opts ...cmp.Option) {
	t.Helper()
	if d := cmp.Diff(want, got, append(opts, equateEmpty)...); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}
