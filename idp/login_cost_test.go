package idp_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/rotor-idp/rotor/idp"
)

// hashLog records the parameters of every argon2id run.
type hashLog struct {
	mu   sync.Mutex
	runs []argon2id.Params
}

func (l *hashLog) observe(p argon2id.Params) {
	l.mu.Lock()
	l.runs = append(l.runs, p)
	l.mu.Unlock()
}

// since returns the runs after the first n, and their total work in KiB
// passes (memory × iterations: what argon2id's time follows).
func (l *hashLog) since(n int) (runs []argon2id.Params, work uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	runs = append(runs, l.runs[n:]...)
	for _, p := range runs {
		work += uint64(p.Memory) * uint64(p.Iterations)
	}
	return runs, work
}

func (l *hashLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.runs)
}

// storeUserWithHash stores a user whose password hash is exactly phc.
func (e *env) storeUserWithHash(name, phc string) idp.User {
	e.t.Helper()
	now := e.clock.Now().UTC().Truncate(time.Microsecond)
	u := idp.User{ID: "id-" + name, Name: name, PasswordHash: phc, CreatedAt: now, UpdatedAt: now}
	if err := e.store.CreateUser(context.Background(), u); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// userWithParams stores a user whose hash was made with p (older settings,
// or `rotor users add` run with other flags).
func (e *env) userWithParams(name string, p argon2id.Params) {
	e.t.Helper()
	h, err := idp.HashPassword(ownerPW, p)
	if err != nil {
		e.t.Fatal(err)
	}
	e.storeUserWithHash(name, h)
}

// TestLoginWorkIndependentOfUser is issue 11, finding 4: a user whose hash
// was made with cheap parameters answered in 3–8 ms, an unknown user in
// 36–44 ms. Every failed login now costs the argon2id work of one hash with
// the server's parameters, whoever the user is, and never holds more memory
// than such a hash.
func TestLoginWorkIndependentOfUser(t *testing.T) {
	current := argon2id.Params{Memory: 4096, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	e := newEnv(t, func(c *idp.Config) {
		c.Argon2 = current
		c.HashWait = time.Minute // the burst below must hash, not be turned away busy
	})
	secret := e.client(idp.ClientSpec{ID: "web", GrantTypes: []string{"password"}, Scopes: []string{"read"}})
	e.user("current", ownerPW)
	cheap := argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	e.userWithParams("cheap", cheap)
	onePass := current
	onePass.Iterations = 1
	e.userWithParams("one-pass", onePass)
	e.userWithParams("odd", argon2id.Params{Memory: 1001, Iterations: 3, Parallelism: 2, SaltLength: 8, KeyLength: 16})
	disabled := e.user("disabled", ownerPW)
	if err := e.store.SetUserDisabled(context.Background(), disabled.Name, true, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	var log hashLog
	e.hooks.ObserveArgon2(log.observe)
	want := uint64(current.Memory) * uint64(current.Iterations)

	for _, tt := range []struct{ name, user, pw string }{
		{"unknown user", "nobody", "wrong password"},
		{"current parameters, wrong password", "current", "wrong password"},
		{"cheap parameters, wrong password", "cheap", "wrong password"},
		{"one pass of the current memory, wrong password", "one-pass", "wrong password"},
		{"odd parameters, wrong password", "odd", "wrong password"},
		{"disabled user, right password", "disabled", ownerPW},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := log.len()
			wantError(t, e.login("web", secret, tt.user, tt.pw), http.StatusBadRequest, "invalid_grant")
			runs, work := log.since(n)
			// Rounding the top-up to whole KiB per pass may leave less
			// than one KiB per pass of the current parameters.
			if work > want || want-work >= uint64(current.Iterations) {
				t.Errorf("argon2id work %d KiB-passes (runs %+v), one current hash is %d", work, runs, want)
			}
			for _, p := range runs {
				if p.Memory > current.Memory {
					t.Errorf("a run held %d KiB, more than a current hash (%d)", p.Memory, current.Memory)
				}
			}
		})
	}

	t.Run("concurrent burst", func(t *testing.T) {
		n := log.len()
		users := []string{"nobody", "cheap", "one-pass", "current"}
		rs := burst(24, func(i int) response { return e.login("web", secret, users[i%len(users)], "wrong password") })
		if got := tally(rs); got["400 invalid_grant"] != 24 {
			t.Fatalf("answers %v", got)
		}
		if _, work := log.since(n); work > 24*want || 24*want-work >= 24*uint64(current.Iterations) {
			t.Errorf("24 failed logins did %d KiB-passes, want 24 × %d", work, want)
		}
	})
}

// TestStoredHashOutsideLimitsIsRefused is issue 11, finding 5: argon2id ran
// whatever a stored PHC string named, up to 4 GiB per hashing slot. The
// parameters are now checked first: the login fails like a wrong password,
// the operator gets a clear log line, and nothing out of bounds runs.
func TestStoredHashOutsideLimitsIsRefused(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, func(c *idp.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		c.Argon2Limits = idp.Argon2Limits{MaxMemory: 64 << 10, MaxIterations: 10, MaxParallelism: 4}
	})
	secret := e.client(idp.ClientSpec{ID: "web", GrantTypes: []string{"password"}, Scopes: []string{"read"}})
	const salt, key = "c29tZXNhbHRzb21lc2FsdA", "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
	phc := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }
	var log hashLog
	e.hooks.ObserveArgon2(log.observe)

	for _, tt := range []struct{ name, hash, wantLog string }{
		{"4 GiB of memory", phc("m=4194304,t=1,p=1"), "memory 4194304 KiB is outside"},
		{"too many passes", phc("m=1024,t=1000000,p=1"), "iterations 1000000 are outside"},
		{"too many lanes", phc("m=1024,t=1,p=200"), "parallelism 200 is outside"},
		{"no lanes", phc("m=1024,t=1,p=0"), "parallelism 0 is outside"},
		{"no passes", phc("m=1024,t=0,p=1"), "iterations 0 are outside"},
		{"a huge key", "$argon2id$v=19$m=1024,t=1,p=1$" + salt + "$" + strings.Repeat("A", 4096), "key of 3072 bytes is outside"},
		{"not argon2id", "$argon2i$v=19$m=1024,t=1,p=1$" + salt + "$" + key, "incompatible variant"},
		{"garbage", "plaintext-password", "hash is not in the correct format"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := "u" + strconv.Itoa(log.len()) + strings.ReplaceAll(tt.name, " ", "-")
			u := e.storeUserWithHash(name, tt.hash)
			n := log.len()
			// A burst: every one refused, none runs the stored parameters.
			rs := burst(8, func(int) response { return e.login("web", secret, name, ownerPW) })
			if got := tally(rs); got["400 invalid_grant"] != 8 {
				t.Fatalf("answers %v, want 8 × 400 invalid_grant", got)
			}
			runs, _ := log.since(n)
			for _, p := range runs {
				if p != fastArgon2 {
					t.Errorf("ran argon2id with %+v; only the dummy with the server's parameters may run", p)
				}
			}
			if len(runs) != 8 {
				t.Errorf("%d argon2id runs, want 8 (the dummy, so the refusal costs what a wrong password costs)", len(runs))
			}
			out := logs.String()
			line := fmt.Sprintf("user_id=%s", u.ID)
			if !strings.Contains(out, "password login refused") || !strings.Contains(out, line) || !strings.Contains(out, tt.wantLog) {
				t.Errorf("log does not say which user and why (want %q and %q):\n%s", line, tt.wantLog, out)
			}
			if strings.Contains(out, tt.hash) || strings.Contains(out, salt) {
				t.Error("the log line carries the stored hash")
			}
		})
	}
}

// TestThrottleMemoryCannotBeFlushed is issue 11, finding 7: past the bound
// on tracked keys arbitrary buckets were dropped, so spraying usernames
// from many addresses evicted the bucket holding an attacker back.
func TestThrottleMemoryCannotBeFlushed(t *testing.T) {
	const bound = 50
	e := newEnv(t, func(c *idp.Config) {
		c.Throttle = idp.ThrottleConfig{AccountBurst: 5, AddressBurst: 1000, Window: time.Hour, MaxTrackedKey: bound}
	})
	secret := e.client(idp.ClientSpec{ID: "web", GrantTypes: []string{"password"}, Scopes: []string{"read"}})
	e.user("alice", ownerPW)
	attacker := sourceClient(t, "127.0.0.2")
	for i := range 5 {
		wantError(t, e.loginVia(attacker, e.url, "web", secret, "alice", fmt.Sprintf("guess %d", i)), http.StatusBadRequest, "invalid_grant")
	}

	// 400 fresh usernames from 40 addresses, all at once.
	sprayers := make([]*http.Client, 40)
	for i := range sprayers {
		sprayers[i] = sourceClient(t, "127.0.1."+strconv.Itoa(1+i))
	}
	burst(400, func(i int) response {
		return e.loginVia(sprayers[i%len(sprayers)], e.url, "web", secret, fmt.Sprintf("spray-%d", i), "Password1")
	})
	pair, address, account := e.hooks.ThrottleKeys()
	for name, n := range map[string]int{"account+address": pair, "address": address, "account": account} {
		if n > bound {
			t.Errorf("%s table tracks %d keys, bound is %d", name, n, bound)
		}
	}
	wantError(t, e.loginVia(attacker, e.url, "web", secret, "alice", ownerPW), http.StatusTooManyRequests, "temporarily_unavailable")
}
