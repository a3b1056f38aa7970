package resource

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rotor-idp/rotor/resource/resourcetest"
)

// TestStatsCount checks each counter of Stats against the acts that move
// it: verified tokens (cache hits and misses), rejections by reason, an
// unknown kid, a refetch inside the floor, and a failed fetch.
func TestStatsCount(t *testing.T) {
	iss := resourcetest.New(t)
	v := newVerifier(t, iss, func(c *Config) { c.UnknownKeyFloor = time.Hour })
	ctx := context.Background()

	good := iss.Token()
	for range 3 {
		if _, err := v.Verify(ctx, good); err != nil {
			t.Fatal(err)
		}
	}
	expired := iss.Token(resourcetest.WithClaims(func(c *resourcetest.Claims) {
		c.ExpiresAt = time.Now().Add(-time.Hour)
		c.IssuedAt = time.Now().Add(-2 * time.Hour)
	}))
	stranger := iss.NewKey("EdDSA") // never published
	unknown := iss.Token(resourcetest.WithKey(stranger))
	for _, tok := range []string{"", "not.a.token", expired, unknown, unknown} {
		if _, err := v.Verify(ctx, tok); err == nil {
			t.Fatalf("Verify accepted %q", tok)
		}
	}

	iss.SetJWKSHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	if err := v.Refresh(ctx); err == nil {
		t.Fatal("Refresh succeeded against a failing JWKS")
	}

	s := v.Stats()
	if s.CacheHits != 2 || s.CacheMisses != 5 { // the empty token never reaches the cache
		t.Errorf("cache hits/misses = %d/%d, want 2/5", s.CacheHits, s.CacheMisses)
	}
	// The first unknown kid fetches (it is the first on-demand fetch), the
	// second falls inside the floor.
	if s.UnknownKIDs != 2 || s.RefetchesSuppressed != 1 {
		t.Errorf("unknown kids %d, suppressed refetches %d; want 2, 1", s.UnknownKIDs, s.RefetchesSuppressed)
	}
	if s.FetchFailures != 1 {
		t.Errorf("fetch failures = %d, want 1", s.FetchFailures)
	}
	want := map[string]uint64{"no_token": 1, "header": 1, "expired": 1, "unknown_kid": 2}
	if diff := cmp.Diff(want, s.Rejections); diff != "" {
		t.Errorf("rejections (-want +got):\n%s", diff)
	}
}

// TestStatsCountDPoPRejections: the binding and proof checks that follow
// Verify count their refusals too.
func TestStatsCountDPoPRejections(t *testing.T) {
	g := newDPoPRig(t)
	p := g.proof("GET", "/things", g.bound)
	if r := g.call("GET", "/things", "DPoP "+g.bound, p); r.Status != 200 {
		t.Fatalf("first use: %+v", r)
	}
	g.call("GET", "/things", "DPoP "+g.bound, p)  // replayed proof
	g.call("GET", "/things", "DPoP "+g.bound, "") // no proof
	g.call("GET", "/things", "Bearer "+g.bound, "")
	plain := g.iss.Token()
	g.call("GET", "/things", "DPoP "+plain, g.proof("GET", "/things", plain))
	want := map[string]uint64{"dpop_proof_replay": 1, "dpop_proof": 1, "dpop_bound_as_bearer": 1, "dpop_unbound": 1}
	if diff := cmp.Diff(want, g.v.Stats().Rejections); diff != "" {
		t.Errorf("rejections (-want +got):\n%s", diff)
	}
}
