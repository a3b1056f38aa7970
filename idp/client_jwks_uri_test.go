package idp_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/internal/dpoptest"
)

// jwksHost is a client's JWKS, served over real HTTP on loopback.
type jwksHost struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	header  http.Header
	handler http.HandlerFunc // replaces the normal answer when set
	hits    atomic.Int64
}

func newJWKSHost(t *testing.T) *jwksHost {
	h := &jwksHost{header: http.Header{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.hits.Add(1)
		h.mu.Lock()
		body, hdr, fn := h.body, h.header.Clone(), h.handler
		h.mu.Unlock()
		if fn != nil {
			fn(w, r)
			return
		}
		for k, v := range hdr {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(h.Close)
	return h
}

// serve publishes the public halves of keys, each under its kid.
func (h *jwksHost) serve(t *testing.T, keys map[string]*dpoptest.Prover) {
	t.Helper()
	set := jwk.NewSet()
	for kid, k := range keys {
		pub, _ := k.Public.Clone()
		_ = pub.Set(jwk.AlgorithmKey, k.Alg)
		_ = pub.Set(jwk.KeyIDKey, kid)
		_ = set.AddKey(pub)
	}
	raw, _ := json.Marshal(set)
	h.mu.Lock()
	h.body, h.handler = raw, nil
	h.mu.Unlock()
}

func (h *jwksHost) setHandler(fn http.HandlerFunc) {
	h.mu.Lock()
	h.handler = fn
	h.mu.Unlock()
}

func (h *jwksHost) url() string { return h.URL + "/jwks.json" }

// newJWKSURIEnv is an env whose log the tests read.
func newJWKSURIEnv(t *testing.T) (*env, *syncBuffer) {
	var logs syncBuffer
	e := newEnv(t, func(c *idp.Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	return e, &logs
}

// uriClient registers a private_key_jwt client whose keys are at uri.
func (e *env) uriClient(id, uri string) {
	e.t.Helper()
	spec := idp.ClientSpec{ID: id, GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"},
		AuthMethod: idp.AuthPrivateKeyJWT, JWKSURI: uri}
	if secret := e.client(spec); secret != "" {
		e.t.Fatal("a private_key_jwt client got a secret")
	}
}

// signKid signs claims with k under kid.
func signKid(t testing.TB, k *dpoptest.Prover, kid string, claims map[string]any) string {
	t.Helper()
	payload, _ := json.Marshal(claims)
	h := jws.NewHeaders()
	_ = h.Set(jws.KeyIDKey, kid)
	out, err := jws.Sign(payload, jws.WithKey(k.Alg, k.Signer, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func (e *env) ccKid(id string, k *dpoptest.Prover, kid string) response {
	e.t.Helper()
	return e.ccWithAssertion(signKid(e.t, k, kid, e.assertionClaims(id)), nil)
}

func TestJWKSURIAssertion(t *testing.T) {
	e, _ := newJWKSURIEnv(t)
	host := newJWKSHost(t)
	k1 := dpoptest.New(t, "ES256")
	host.serve(t, map[string]*dpoptest.Prover{"k1": k1})
	e.uriClient("fetcher", host.url())

	for i := range 3 {
		if r := e.ccKid("fetcher", k1, "k1"); r.status != http.StatusOK || r.str("access_token") == "" {
			t.Fatalf("token %d: %d %s", i, r.status, r.raw)
		}
	}
	if n := host.hits.Load(); n != 1 {
		t.Errorf("%d fetches for three assertions, want 1 (cached)", n)
	}
	// The same keys authenticate at the other endpoints.
	f := url.Values{"token": {"nothing"}, "client_assertion_type": {idp.AssertionType},
		"client_assertion": {signKid(t, k1, "k1", e.assertionClaims("fetcher"))}}
	if r := e.post("/oauth2/revoke", f); r.status != http.StatusOK {
		t.Errorf("revoke: %d %s", r.status, r.raw)
	}
	// A key the set does not hold is refused.
	other := dpoptest.New(t, "ES256")
	wantError(t, e.ccKid("fetcher", other, "k1"), http.StatusUnauthorized, "invalid_client")
}

func TestJWKSURIRotationAfterKidMiss(t *testing.T) {
	e, _ := newJWKSURIEnv(t)
	host := newJWKSHost(t)
	k1, k2 := dpoptest.New(t, "ES256"), dpoptest.New(t, "EdDSA")
	host.serve(t, map[string]*dpoptest.Prover{"k1": k1})
	e.uriClient("rotator", host.url())
	if r := e.ccKid("rotator", k1, "k1"); r.status != http.StatusOK {
		t.Fatalf("k1: %d %s", r.status, r.raw)
	}
	// The client rotates: it publishes k2 and signs with it at once.
	host.serve(t, map[string]*dpoptest.Prover{"k2": k2})
	// Within the floor of the first fetch, an unknown kid fetches nothing.
	wantError(t, e.ccKid("rotator", k2, "k2"), http.StatusUnauthorized, "invalid_client")
	if n := host.hits.Load(); n != 1 {
		t.Fatalf("%d fetches inside the floor, want 1", n)
	}
	e.clock.Advance(31 * time.Second)
	if r := e.ccKid("rotator", k2, "k2"); r.status != http.StatusOK {
		t.Fatalf("k2 after the floor: %d %s", r.status, r.raw)
	}
	if n := host.hits.Load(); n != 2 {
		t.Errorf("%d fetches, want 2 (one kid-miss refetch)", n)
	}
	// The old key is gone with the old set.
	wantError(t, e.ccKid("rotator", k1, "k1"), http.StatusUnauthorized, "invalid_client")
}

// TestJWKSURIKidMissFloorBurst sends a concurrent burst of assertions naming
// kids the set lacks: together they cause one fetch.
func TestJWKSURIKidMissFloorBurst(t *testing.T) {
	e, _ := newJWKSURIEnv(t)
	host := newJWKSHost(t)
	k1 := dpoptest.New(t, "ES256")
	host.serve(t, map[string]*dpoptest.Prover{"k1": k1})
	e.uriClient("flooded", host.url())
	if r := e.ccKid("flooded", k1, "k1"); r.status != http.StatusOK {
		t.Fatalf("k1: %d %s", r.status, r.raw)
	}
	e.clock.Advance(31 * time.Second)
	attacker := dpoptest.New(t, "ES256")
	const n = 40
	assertions := make([]string, n)
	for i := range assertions {
		assertions[i] = signKid(t, attacker, fmt.Sprintf("unknown-%d", i), e.assertionClaims("flooded"))
	}
	var wg sync.WaitGroup
	statuses := make([]int, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			statuses[i] = e.ccWithAssertion(assertions[i], nil).status
		})
	}
	close(start)
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusUnauthorized {
			t.Errorf("assertion %d: status %d, want 401", i, s)
		}
	}
	if got := host.hits.Load(); got != 2 {
		t.Errorf("%d fetches after a burst of %d unknown kids, want 2 (the first and one refetch)", got, n)
	}
	// The real key still works throughout.
	if r := e.ccKid("flooded", k1, "k1"); r.status != http.StatusOK {
		t.Errorf("k1 after the burst: %d %s", r.status, r.raw)
	}
}

func TestJWKSURIMaxAgeAndLastGoodSet(t *testing.T) {
	e, _ := newJWKSURIEnv(t)
	host := newJWKSHost(t)
	k1 := dpoptest.New(t, "ES256")
	host.serve(t, map[string]*dpoptest.Prover{"k1": k1})
	host.mu.Lock()
	host.header.Set("Cache-Control", "max-age=120")
	host.mu.Unlock()
	e.uriClient("cached", host.url())
	ok := func(when string) {
		t.Helper()
		if r := e.ccKid("cached", k1, "k1"); r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", when, r.status, r.raw)
		}
	}
	ok("first")
	e.clock.Advance(90 * time.Second)
	ok("within max-age")
	if n := host.hits.Load(); n != 1 {
		t.Fatalf("%d fetches within max-age, want 1", n)
	}
	e.clock.Advance(40 * time.Second)
	ok("after max-age")
	if n := host.hits.Load(); n != 2 {
		t.Fatalf("%d fetches after max-age, want 2", n)
	}
	// The host fails: the last good set keeps serving.
	host.setHandler(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusInternalServerError) })
	e.clock.Advance(121 * time.Second)
	ok("host failing")
	if n := host.hits.Load(); n != 3 {
		t.Errorf("%d fetches, want 3 (the failed one)", n)
	}
}

// TestJWKSURIRefused: key sets Rotor must not use give invalid_client and
// log why.
func TestJWKSURIRefused(t *testing.T) {
	e, logs := newJWKSURIEnv(t)
	e.hooks.SetClientJWKSTimeout(500 * time.Millisecond)
	k := dpoptest.New(t, "ES256")
	pub, _ := k.Public.Clone()
	_ = pub.Set(jwk.KeyIDKey, "k1")
	pubJSON, _ := json.Marshal(pub)
	other := newJWKSHost(t)
	other.serve(t, map[string]*dpoptest.Prover{"k1": k})

	priv, err := jwk.Import(k.Signer)
	if err != nil {
		t.Fatal(err)
	}
	_ = priv.Set(jwk.KeyIDKey, "k1")
	privJSON, _ := json.Marshal(priv)

	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	cases := []struct {
		name, reason string
		handler      http.HandlerFunc
	}{
		{"oversized", "body over 1 MiB", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, `{"keys":[%s],"pad":"%s"}`, pubJSON, strings.Repeat("x", 1<<20))
		}},
		{"slow", "timeout after 500ms", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}},
		{"redirect to another host", "redirect to another host", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.url(), http.StatusFound)
		}},
		{"private members", `private member \"d\"`, func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, `{"keys":[%s]}`, privJSON)
		}},
		{"error status", "HTTP 404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			host := newJWKSHost(t)
			host.setHandler(tc.handler)
			id := fmt.Sprintf("refused-%d", i)
			e.uriClient(id, host.url())
			wantError(t, e.ccKid(id, k, "k1"), http.StatusUnauthorized, "invalid_client")
			if !strings.Contains(logs.String(), tc.reason) {
				t.Errorf("log lacks %q:\n%s", tc.reason, logs.String())
			}
		})
	}
	if other.hits.Load() != 0 {
		t.Error("the redirect to another host was followed")
	}
	if strings.Contains(logs.String(), `"d":`) {
		t.Error("private key material reached the log")
	}
}

func TestJWKSURIRegistration(t *testing.T) {
	spec := func(uri string, jwks []byte) idp.ClientSpec {
		return idp.ClientSpec{ID: "c", GrantTypes: []string{"client_credentials"}, Audiences: []string{"api"}, AuthMethod: idp.AuthPrivateKeyJWT, JWKSURI: uri, JWKS: jwks}
	}
	now := time.Now()
	for _, uri := range []string{"https://keys.example/jwks.json", "http://127.0.0.1:8080/jwks", "http://[::1]/jwks", "http://localhost/jwks"} {
		c, secret, err := idp.NewClient(spec(uri, nil), now)
		if err != nil || secret != "" || c.JWKSURI != uri || c.JWKS != "" {
			t.Errorf("%s: %+v %q %v", uri, c, secret, err)
		}
	}
	for _, uri := range []string{"http://keys.example/jwks.json", "ftp://keys.example/x", "/jwks.json", "https://u:p@keys.example/", "https://keys.example/#f"} {
		if _, _, err := idp.NewClient(spec(uri, nil), now); err == nil {
			t.Errorf("%s accepted", uri)
		}
	}
	if _, _, err := idp.NewClient(spec("https://keys.example/", []byte(`{"keys":[]}`)), now); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("jwks and jwks_uri together: %v", err)
	}
	s := spec("https://keys.example/", nil)
	s.AuthMethod = ""
	if _, _, err := idp.NewClient(s, now); err == nil {
		t.Error("a jwks_uri without private_key_jwt was accepted")
	}
}
