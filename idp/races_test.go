package idp_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// Revocations racing a refresh of the same family, through the HTTP surface:
// RFC 7009 revocation, disabling the user and changing the password (as
// `rotor users` does, on the store). Whichever wins, the refresh either
// fails or its family ends revoked: never a live token after the revocation
// has returned.

// revocation is one way to revoke the family of a user's refresh token.
type revocation struct {
	name   string
	revoke func(e *env, secret, user, token string) error
}

var revocations = []revocation{
	{"RFC 7009 revocation", func(e *env, secret, _, token string) error {
		if r := e.post("/oauth2/revoke", url.Values{"token": {token}}, basicAuth("web", secret)); r.status != http.StatusOK {
			return fmt.Errorf("revoke: %d %s", r.status, r.raw)
		}
		return nil
	}},
	{"disabling the user", func(e *env, _, user, _ string) error {
		return e.store.SetUserDisabled(context.Background(), user, true, time.Now().UTC())
	}},
	{"changing the password", func(e *env, _, user, _ string) error {
		h, err := idp.HashPassword("another horse battery staple", fastArgon2)
		if err != nil {
			return err
		}
		return e.store.SetPassword(context.Background(), user, h, time.Now().UTC())
	}},
}

// signIn makes user name and returns a fresh refresh token of theirs.
func (e *env) signIn(secret, name string) string {
	e.t.Helper()
	e.user(name, "correct horse battery staple")
	r := e.login("web", secret, name, "correct horse battery staple")
	if r.status != http.StatusOK {
		e.t.Fatalf("login: %d %s", r.status, r.raw)
	}
	return r.str("refresh_token")
}

// checkRefreshLost fails unless the refresh failed or its token, and every
// other token of the family, is refused.
func checkRefreshLost(t *testing.T, e *env, secret, token string, refreshed response) {
	t.Helper()
	switch refreshed.status {
	case http.StatusOK:
		wantError(t, e.refresh("web", secret, refreshed.str("refresh_token"), nil), http.StatusBadRequest, "invalid_grant")
	case http.StatusBadRequest:
		if refreshed.str("error") != "invalid_grant" {
			t.Errorf("refresh: %d %s, want 200 or invalid_grant", refreshed.status, refreshed.raw)
		}
	default:
		t.Errorf("refresh: %d %s, want 200 or invalid_grant", refreshed.status, refreshed.raw)
	}
	if live := e.liveTokens(token); len(live) != 0 {
		t.Errorf("%d live tokens in the family after the revocation", len(live))
	}
}

func TestRevocationRacesRefresh(t *testing.T) {
	for _, rv := range revocations {
		t.Run(rv.name, func(t *testing.T) {
			e := newEnv(t)
			secret := e.client(idp.ClientSpec{ID: "web", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read"}})
			won := 0
			for round := range 20 {
				user := fmt.Sprint("user", round)
				token := e.signIn(secret, user)
				var err error
				refreshed := burst(2, func(i int) response {
					if i == 0 {
						return e.refresh("web", secret, token, nil)
					}
					err = rv.revoke(e, secret, user, token)
					return response{}
				})[0]
				if err != nil {
					t.Fatal(err)
				}
				if refreshed.status == http.StatusOK {
					won++
				}
				checkRefreshLost(t, e, secret, token, refreshed)
			}
			t.Logf("the refresh was answered with a token (that then died with its family) in %d of 20 rounds", won)
		})
	}
}

// TestRevocationDuringRefresh holds a refresh inside the store's
// transaction, after it has decided to rotate the family, while the
// revocation runs: the revocation must wait for it or undo it.
func TestRevocationDuringRefresh(t *testing.T) {
	for _, rv := range revocations {
		t.Run(rv.name, func(t *testing.T) {
			var pause pauser
			e := newEnvWithSeam(t, func(d *idp.Deps) { d.Refresh = pausingRefresh{d.Refresh, &pause} })
			secret := e.client(idp.ClientSpec{ID: "web", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read"}})
			token := e.signIn(secret, "alice")

			paused, resume := pause.arm()
			refreshed := make(chan response, 1)
			go func() { refreshed <- e.refresh("web", secret, token, nil) }()
			<-paused
			revoked := make(chan error, 1)
			go func() { revoked <- rv.revoke(e, secret, "alice", token) }()
			// A store that does not make the revocation wait for the
			// family lock lets it finish now; give it the chance. The
			// verdict never depends on the pause.
			select {
			case err := <-revoked:
				revoked <- err
			case <-time.After(200 * time.Millisecond):
			}
			close(resume)
			r := <-refreshed
			if err := <-revoked; err != nil {
				t.Fatal(err)
			}
			checkRefreshLost(t, e, secret, token, r)
		})
	}
}

// TestDeletedClientAgainstTheCache: a client deleted while requests use it
// works on a replica for at most the cache TTL after the deletion, however
// the requests interleave with it.
func TestDeletedClientAgainstTheCache(t *testing.T) {
	t.Run("a read from before the deletion answered late", func(t *testing.T) {
		// The request read the client, then stalled past the deletion and
		// the TTL: what it caches must not outlive the TTL from its read.
		var pause pauser
		e := newEnvWithSeam(t, func(d *idp.Deps) { d.Clients = pausingClients{d.Clients, &pause} })
		secret := e.client(idp.ClientSpec{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
		paused, resume := pause.arm()
		late := make(chan response, 1)
		go func() { late <- e.clientCredentials("svc", secret, nil) }()
		<-paused
		if err := e.store.DeleteClient(context.Background(), "svc"); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(2 * idp.DefaultClientCacheTTL)
		close(resume)
		if r := <-late; r.status != http.StatusOK && r.status != http.StatusUnauthorized {
			t.Errorf("the stalled request: %d %s", r.status, r.raw)
		}
		wantError(t, e.clientCredentials("svc", secret, nil), http.StatusUnauthorized, "invalid_client")
	})

	t.Run("a burst across the deletion", func(t *testing.T) {
		e := newEnv(t)
		secret := e.client(idp.ClientSpec{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
		var (
			mu       sync.Mutex
			cutoff   time.Time // requests that start after it must be refused
			counts   = map[string]int{}
			stop     = make(chan struct{})
			wg       sync.WaitGroup
			violated []string
		)
		for range 8 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					start := e.clock.Now()
					r := e.clientCredentials("svc", secret, nil)
					mu.Lock()
					late := !cutoff.IsZero() && !start.Before(cutoff)
					counts[fmt.Sprint(r.status, " late=", late)]++
					if late && r.status != http.StatusUnauthorized {
						violated = append(violated, fmt.Sprintf("%d %s", r.status, r.raw))
					}
					mu.Unlock()
				}
			})
		}
		count := func(k string) int {
			mu.Lock()
			defer mu.Unlock()
			return counts[k]
		}
		await(t, "tokens before the deletion", func() bool { return count("200 late=false") > 20 })
		if err := e.store.DeleteClient(context.Background(), "svc"); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		cutoff = e.clock.Now().Add(idp.DefaultClientCacheTTL)
		mu.Unlock()
		// Walk the clock across the TTL while the requests go on.
		for range 4 {
			e.clock.Advance(idp.DefaultClientCacheTTL / 4)
		}
		await(t, "refusals past the TTL", func() bool { return count("401 late=true") > 20 })
		close(stop)
		wg.Wait()
		t.Logf("answers: %v", counts)
		for _, v := range violated {
			t.Errorf("a request that started a TTL after the deletion was answered %s", v)
		}
		for k := range counts {
			if k != "200 late=false" && k != "401 late=false" && k != "401 late=true" {
				t.Errorf("unexpected answers: %s × %d", k, counts[k])
			}
		}
	})
}

// pauser holds the next call that reaches it, once armed: paused is closed
// when a call is held, and the call goes on when resume is closed.
type pauser struct {
	mu     sync.Mutex
	paused chan struct{}
	resume chan struct{}
}

func (p *pauser) arm() (paused, resume chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused, p.resume = make(chan struct{}), make(chan struct{})
	return p.paused, p.resume
}

func (p *pauser) hold() {
	p.mu.Lock()
	paused, resume := p.paused, p.resume
	p.paused = nil // one call only
	p.mu.Unlock()
	if paused != nil {
		close(paused)
		<-resume
	}
}

// pausingRefresh is the real refresh store with a pause inside UseRefresh,
// after the refresh rules have decided and before the store applies their
// decision: the refresh holds its lock there.
type pausingRefresh struct {
	idp.RefreshStore
	p *pauser
}

func (s pausingRefresh) UseRefresh(ctx context.Context, hash []byte, fn func(idp.RefreshState) (idp.RefreshUpdate, error)) error {
	return s.RefreshStore.UseRefresh(ctx, hash, func(st idp.RefreshState) (idp.RefreshUpdate, error) {
		u, err := fn(st)
		s.p.hold()
		return u, err
	})
}

// pausingClients is the real client store with a pause after ClientByID has
// read the client.
type pausingClients struct {
	idp.ClientStore
	p *pauser
}

func (s pausingClients) ClientByID(ctx context.Context, id string) (idp.Client, error) {
	c, err := s.ClientStore.ClientByID(ctx, id)
	s.p.hold()
	return c, err
}
