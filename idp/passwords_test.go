package idp_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/google/go-cmp/cmp"
	"github.com/rotor-idp/rotor/idp"
)

func TestUnknownUserCostsTheSameAsWrongPassword(t *testing.T) {
	e := newEnv(t)
	secret := e.client(idp.ClientSpec{ID: "web", GrantTypes: []string{"password"}, Scopes: []string{"read"}})
	e.user("alice", "correct horse battery staple")
	disabled := e.user("mallory", "correct horse battery staple")
	if err := e.store.SetUserDisabled(context.Background(), disabled.Name, true, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}

	answer := func(user, pw string) (response, int64) {
		before := e.hooks.Verifications()
		r := e.login("web", secret, user, pw)
		return r, e.hooks.Verifications() - before
	}
	wrong, wrongCost := answer("alice", "not the password")
	for _, tt := range []struct{ name, user, pw string }{
		{"unknown user", "nobody", "not the password"},
		{"disabled user, right password", "mallory", "correct horse battery staple"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, cost := answer(tt.user, tt.pw)
			if r.status != wrong.status || string(r.raw) != string(wrong.raw) {
				t.Errorf("answer %d %s differs from a wrong password's %d %s", r.status, r.raw, wrong.status, wrong.raw)
			}
			// Timing: both run exactly one argon2id verification with the
			// same parameters, which is all the time a login takes.
			if cost != wrongCost || cost != 1 {
				t.Errorf("%d argon2id verifications, a wrong password costs %d", cost, wrongCost)
			}
		})
	}
}

func TestLongPasswords(t *testing.T) {
	e := newEnv(t)
	secret := e.client(idp.ClientSpec{ID: "web", GrantTypes: []string{"password"}, Scopes: []string{"read"}})
	for _, n := range []int{64, 100, idp.MaxPasswordLen} {
		pw := strings.Repeat("pässwörd", n)[:n]
		name := "user" + strings.Repeat("x", n%7)
		e.user(name+string(rune('a'+n%26)), pw)
		if r := e.login("web", secret, name+string(rune('a'+n%26)), pw); r.status != http.StatusOK {
			t.Errorf("%d-byte password: %d %s", n, r.status, r.raw)
		}
	}
}

func TestPasswordRehashOnLogin(t *testing.T) {
	e := newEnv(t) // serves with fastArgon2
	secret := e.client(idp.ClientSpec{ID: "web", GrantTypes: []string{"password"}, Scopes: []string{"read"}})
	old := argon2id.Params{Memory: 2048, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	u, err := idp.NewUser("alice", "correct horse battery staple", old, time.Now().UTC().Truncate(time.Microsecond))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	if r := e.login("web", secret, "alice", "correct horse battery staple"); r.status != http.StatusOK {
		t.Fatalf("login: %d %s", r.status, r.raw)
	}
	got, err := e.store.UserByName(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	p, _, _, err := argon2id.DecodeHash(got.PasswordHash)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fastArgon2, *p); diff != "" {
		t.Errorf("hash parameters after login (-want +got):\n%s", diff)
	}
	if r := e.login("web", secret, "alice", "correct horse battery staple"); r.status != http.StatusOK {
		t.Fatalf("login after rehash: %d %s", r.status, r.raw)
	}
}

func TestHashConcurrencyBound(t *testing.T) {
	e := newEnv(t, func(c *idp.Config) {
		c.HashConcurrency = 2
		c.HashWait = 50 * time.Millisecond
	})
	secret := e.client(idp.ClientSpec{ID: "web", GrantTypes: []string{"password"}, Scopes: []string{"read"}})
	e.user("alice", "correct horse battery staple")

	release := e.hooks.HoldHashSlots()
	r := e.login("web", secret, "alice", "correct horse battery staple")
	wantError(t, r, http.StatusServiceUnavailable, "temporarily_unavailable")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	release()
	if r := e.login("web", secret, "alice", "correct horse battery staple"); r.status != http.StatusOK {
		t.Fatalf("after the slots freed up: %d %s", r.status, r.raw)
	}

	// Many logins at once: no more than two hash at any moment. Each
	// argon2id run reports to the observer while it still holds its slot,
	// and is held there until no login can get any further (each is either
	// answered or held here), so the number held at once is the number the
	// bound let in together; then the held ones finish.
	var (
		mu            sync.Mutex
		held, maxHeld int
		answered      atomic.Int64
		gate          = make(chan struct{})
	)
	e.hooks.ObserveArgon2(func(argon2id.Params) {
		mu.Lock()
		held++
		maxHeld = max(maxHeld, held)
		mu.Unlock()
		<-gate
	})
	var wg sync.WaitGroup
	results := make([]response, 16)
	for i := range results {
		wg.Go(func() {
			results[i] = e.login("web", secret, "alice", "correct horse battery staple")
			answered.Add(1)
		})
	}
	await(t, "every login to be answered or hashing", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return int64(held)+answered.Load() == int64(len(results))
	})
	close(gate)
	wg.Wait()
	if maxHeld != 2 {
		t.Errorf("%d hashes ran at once, want the bound, 2", maxHeld)
	}
	ok := 0
	for _, r := range results {
		switch {
		case r.status == http.StatusOK:
			ok++
		case r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "":
			t.Errorf("concurrent login: %d %s, want 200, or 503 with Retry-After", r.status, r.raw)
		}
	}
	if ok != maxHeld {
		t.Errorf("%d logins succeeded, want the %d that hashed", ok, maxHeld)
	}
}

func TestBruteForceThrottling(t *testing.T) {
	t.Run("per account", func(t *testing.T) {
		e := newEnv(t, func(c *idp.Config) {
			c.Throttle = idp.ThrottleConfig{AccountBurst: 3, AddressBurst: 1000, Window: time.Hour}
		})
		secret := e.client(idp.ClientSpec{ID: "web", GrantTypes: []string{"password"}, Scopes: []string{"read"}})
		e.user("alice", "correct horse battery staple")
		for range 3 {
			wantError(t, e.login("web", secret, "alice", "guess"), http.StatusBadRequest, "invalid_grant")
		}
		before := e.hooks.Verifications()
		r := e.login("web", secret, "alice", "correct horse battery staple")
		wantError(t, r, http.StatusTooManyRequests, "temporarily_unavailable")
		if r.header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		if e.hooks.Verifications() != before {
			t.Error("a throttled login ran a hash")
		}
		// Case does not open a new bucket.
		wantError(t, e.login("web", secret, "ALICE", "guess"), http.StatusTooManyRequests, "temporarily_unavailable")
		// Other accounts are unaffected, and the bucket refills.
		e.user("bob", "correct horse battery staple")
		if r := e.login("web", secret, "bob", "correct horse battery staple"); r.status != http.StatusOK {
			t.Errorf("other account: %d", r.status)
		}
		e.clock.Advance(20 * time.Minute)
		if r := e.login("web", secret, "alice", "correct horse battery staple"); r.status != http.StatusOK {
			t.Errorf("after the window: %d %s", r.status, r.raw)
		}
	})
	t.Run("per address", func(t *testing.T) {
		e := newEnv(t, func(c *idp.Config) {
			c.Throttle = idp.ThrottleConfig{AccountBurst: 1000, AddressBurst: 4, Window: time.Hour}
		})
		secret := e.client(idp.ClientSpec{ID: "web", GrantTypes: []string{"password"}, Scopes: []string{"read"}})
		e.user("alice", "correct horse battery staple")
		// Spraying one guess over many accounts from one address.
		for _, name := range []string{"a1", "a2", "a3", "a4"} {
			wantError(t, e.login("web", secret, name, "Password1"), http.StatusBadRequest, "invalid_grant")
		}
		before := e.hooks.Verifications()
		wantError(t, e.login("web", secret, "alice", "correct horse battery staple"), http.StatusTooManyRequests, "temporarily_unavailable")
		if e.hooks.Verifications() != before {
			t.Error("a throttled login ran a hash")
		}
	})
}
