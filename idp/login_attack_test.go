package idp_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rotor-idp/rotor/idp"
)

// The attacks of issue 11 on password login, as an attacker would run them:
// real HTTP from real (loopback) addresses, bursts released together, and
// hash work counted rather than timed.

const ownerPW = "correct horse battery staple"

// TestParallelGuessesHashAtMostTheLimit is issue 11, finding 1: the throttle
// took the attempt only after the hash, so 60 guesses sent at once were all
// hashed. Now the attempt is taken before queueing for a hash.
func TestParallelGuessesHashAtMostTheLimit(t *testing.T) {
	e := newEnv(t, func(c *idp.Config) {
		c.Throttle = idp.ThrottleConfig{AccountBurst: 10, AddressBurst: 1000, Window: time.Hour}
		c.HashWait = time.Minute // every admitted guess is hashed, none is turned away busy
	})
	secret := e.client(idp.ClientSpec{ID: "web", GrantTypes: []string{"password"}, Scopes: []string{"read"}})
	e.user("alice", ownerPW)

	before := e.hooks.Verifications()
	got := tally(burst(60, func(i int) response { return e.login("web", secret, "alice", fmt.Sprintf("guess %d", i)) }))
	want := map[string]int{"400 invalid_grant": 10, "429 temporarily_unavailable": 50}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	if n := e.hooks.Verifications() - before; n != 10 {
		t.Errorf("%d passwords hashed, the limit is 10", n)
	}
}

// TestBusyAnswersCountAsAttempts is finding 1's second half: guesses turned
// away with 503 because every hashing slot was busy used to cost nothing.
func TestBusyAnswersCountAsAttempts(t *testing.T) {
	e := newEnv(t, func(c *idp.Config) {
		c.Throttle = idp.ThrottleConfig{AccountBurst: 5, AddressBurst: 1000, Window: time.Hour}
		c.HashConcurrency, c.HashWait = 1, 20*time.Millisecond
	})
	secret := e.client(idp.ClientSpec{ID: "web", GrantTypes: []string{"password"}, Scopes: []string{"read"}})
	e.user("alice", ownerPW)

	release := e.hooks.HoldHashSlots()
	got := tally(burst(8, func(i int) response { return e.login("web", secret, "alice", fmt.Sprintf("guess %d", i)) }))
	release()
	if diff := cmp.Diff(map[string]int{"503 temporarily_unavailable": 5, "429 temporarily_unavailable": 3}, got); diff != "" {
		t.Errorf("answers while hashing is saturated (-want +got):\n%s", diff)
	}
	wantError(t, e.login("web", secret, "alice", ownerPW), http.StatusTooManyRequests, "temporarily_unavailable")
}

// TestOwnerSignsInWhileAnAddressAttacks is issue 11, finding 2: ten bad
// guesses from anywhere used to lock the account for everyone. The strict
// limit is now per account and address: the attacker's address is held,
// the owner's is not.
func TestOwnerSignsInWhileAnAddressAttacks(t *testing.T) {
	e := newEnv(t, func(c *idp.Config) {
		c.Throttle = idp.ThrottleConfig{AccountBurst: 10, AddressBurst: 1000, Window: time.Hour}
	})
	secret := e.client(idp.ClientSpec{ID: "web", GrantTypes: []string{"password"}, Scopes: []string{"read"}})
	e.user("alice", ownerPW)
	attacker, owner := sourceClient(t, "127.0.0.2"), sourceClient(t, "127.0.0.3")

	before := e.hooks.Verifications()
	rs := burst(41, func(i int) response {
		if i == 20 { // the owner signs in in the middle of the burst
			return e.loginVia(owner, e.url, "web", secret, "alice", ownerPW)
		}
		return e.loginVia(attacker, e.url, "web", secret, "alice", fmt.Sprintf("guess %d", i))
	})
	if r := rs[20]; r.status != http.StatusOK {
		t.Fatalf("owner during the attack: %d %s", r.status, r.raw)
	}
	rs = append(rs[:20], rs[21:]...)
	if diff := cmp.Diff(map[string]int{"400 invalid_grant": 10, "429 temporarily_unavailable": 30}, tally(rs)); diff != "" {
		t.Errorf("attacker's answers (-want +got):\n%s", diff)
	}
	if n := e.hooks.Verifications() - before; n != 11 {
		t.Errorf("%d passwords hashed, want the attacker's 10 and the owner's 1", n)
	}
	if r := e.loginVia(owner, e.url, "web", secret, "alice", ownerPW); r.status != http.StatusOK {
		t.Errorf("owner after the attack: %d %s", r.status, r.raw)
	}
	// The attacker's address stays held, even with the right password.
	wantError(t, e.loginVia(attacker, e.url, "web", secret, "alice", ownerPW), http.StatusTooManyRequests, "temporarily_unavailable")
}

// TestAccountCeilingSlowsNeverLocks is finding 2's other half: many
// addresses together exhaust the looser per-account ceiling, which then
// slows every address to one guess per window instead of refusing anyone.
func TestAccountCeilingSlowsNeverLocks(t *testing.T) {
	e := newEnv(t, func(c *idp.Config) {
		c.Throttle = idp.ThrottleConfig{AccountBurst: 3, AccountCeiling: 6, AddressBurst: 1000, Window: time.Hour}
	})
	secret := e.client(idp.ClientSpec{ID: "web", GrantTypes: []string{"password"}, Scopes: []string{"read"}})
	e.user("alice", ownerPW)

	const addrs, each = 30, 3
	attackers := make([]*http.Client, addrs)
	for i := range attackers {
		attackers[i] = sourceClient(t, "127.0.0."+strconv.Itoa(10+i))
	}
	before := e.hooks.Verifications()
	got := tally(burst(addrs*each, func(i int) response {
		return e.loginVia(attackers[i%addrs], e.url, "web", secret, "alice", fmt.Sprintf("guess %d", i))
	}))
	// Without the ceiling each address would get its 3: 90 guesses. With
	// it, 6 at the normal price and then at most one per address.
	if hashed := e.hooks.Verifications() - before; hashed > 6+addrs || hashed != int64(got["400 invalid_grant"]) {
		t.Errorf("%d passwords hashed (answers %v), want at most %d", hashed, got, 6+addrs)
	}

	owner := sourceClient(t, "127.0.0.3")
	if r := e.loginVia(owner, e.url, "web", secret, "alice", ownerPW); r.status != http.StatusOK {
		t.Fatalf("owner from a quiet address while the account is under attack: %d %s", r.status, r.raw)
	}
	// A typo under attack costs the owner's address a whole window's worth
	// of its bucket: slowed by one token's refill (window / burst), not locked.
	typo := sourceClient(t, "127.0.0.4")
	wantError(t, e.loginVia(typo, e.url, "web", secret, "alice", "typo"), http.StatusBadRequest, "invalid_grant")
	r := e.loginVia(typo, e.url, "web", secret, "alice", ownerPW)
	wantError(t, r, http.StatusTooManyRequests, "temporarily_unavailable")
	if ra := r.header.Get("Retry-After"); ra != "1200" {
		t.Errorf("Retry-After %q, want 1200 (20 minutes)", ra)
	}
	e.clock.Advance(20 * time.Minute)
	if r := e.loginVia(typo, e.url, "web", secret, "alice", ownerPW); r.status != http.StatusOK {
		t.Errorf("owner after the Retry-After: %d %s", r.status, r.raw)
	}
}

// proxyTo starts a reverse proxy to Rotor on loopback. Like nginx's
// $proxy_add_x_forwarded_for it appends the peer's address to whatever
// X-Forwarded-For the client sent; with forwarded it appends an RFC 7239
// Forwarded element instead and passes X-Forwarded-For through untouched.
func proxyTo(t *testing.T, target string, forwarded bool) string {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		// Rewrite starts from a request without forwarding headers.
		pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
		if !forwarded {
			pr.SetXForwarded()
			return
		}
		pr.Out.Header["Forwarded"] = pr.In.Header["Forwarded"]
		host, _, _ := net.SplitHostPort(pr.In.RemoteAddr)
		pr.Out.Header.Add("Forwarded", fmt.Sprintf("for=%q;proto=http", host))
	}}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestTrustedProxies is issue 11, finding 3, both ways: behind a proxy
// every client used to share the proxy's address. With --trusted-proxies
// naming the proxy, the right-most untrusted forwarding entry is the
// client; forged entries further left change nothing. Without it, the
// header is not believed at all.
func TestTrustedProxies(t *testing.T) {
	for _, tt := range []struct {
		name      string
		trusted   bool
		forwarded bool
	}{
		{"X-Forwarded-For from a trusted proxy", true, false},
		{"Forwarded from a trusted proxy", true, true},
		{"untrusted proxy", false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *idp.Config) {
				c.Throttle = idp.ThrottleConfig{AccountBurst: 5, AddressBurst: 1000, Window: time.Hour}
				if tt.trusted {
					c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
				}
				if tt.forwarded {
					c.ForwardedHeader = idp.HeaderForwarded
				}
			})
			secret := e.client(idp.ClientSpec{ID: "web", GrantTypes: []string{"password"}, Scopes: []string{"read"}})
			e.user("alice", ownerPW)
			proxy := proxyTo(t, e.url, tt.forwarded)
			attacker, owner := sourceClient(t, "127.0.0.2"), sourceClient(t, "127.0.0.3")

			// Each guess forges a fresh address in both headers, hoping
			// for a fresh bucket.
			before := e.hooks.Verifications()
			got := tally(burst(20, func(i int) response {
				forged := fmt.Sprintf("198.51.100.%d", i)
				return e.loginVia(attacker, proxy, "web", secret, "alice", fmt.Sprintf("guess %d", i), func(r *http.Request) {
					r.Header.Set("X-Forwarded-For", forged)
					r.Header.Set("Forwarded", "for="+forged)
				})
			}))
			if diff := cmp.Diff(map[string]int{"400 invalid_grant": 5, "429 temporarily_unavailable": 15}, got); diff != "" {
				t.Errorf("forged addresses opened buckets (-want +got):\n%s", diff)
			}
			if n := e.hooks.Verifications() - before; n != 5 {
				t.Errorf("%d passwords hashed, the limit is 5", n)
			}

			r := e.loginVia(owner, proxy, "web", secret, "alice", ownerPW)
			if tt.trusted && r.status != http.StatusOK {
				t.Errorf("owner behind the trusted proxy: %d %s", r.status, r.raw)
			}
			if !tt.trusted && r.status != http.StatusTooManyRequests {
				// Documented: without --trusted-proxies everyone behind
				// the proxy is one address.
				t.Errorf("owner behind an untrusted proxy: %d %s, want 429 (one shared address)", r.status, r.raw)
			}
		})
	}
}
