package idp_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/internal/pgtest"
)

// With the database down, an authorization request whose client is not
// cached (this one was never read) gets the "try again" page with 503 and
// Retry-After, not a 500 and never a redirect: the client and its redirect
// URIs could not be checked.
func TestAuthorizeDatabaseDown(t *testing.T) {
	cluster := pgtest.NewCluster(t)
	e := newEnvOn(t, cluster.URL(), nil)
	e.webClient(idp.ClientSpec{ID: "web"})
	q := url.Values{
		"response_type": {"code"}, "client_id": {"web"}, "redirect_uri": {webRedirect},
		"code_challenge": {challengeOf(testVerifier)}, "code_challenge_method": {"S256"}, "state": {"s1"},
	}
	cluster.Stop()
	t.Cleanup(cluster.Start)
	b := e.browser()
	r := b.get("/oauth2/authorize?" + q.Encode())
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("authorize with the database down: %d Retry-After=%q, want 503 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
	if loc := r.header.Get("Location"); loc != "" {
		t.Fatalf("authorize with the database down redirected to %q", loc)
	}
}
