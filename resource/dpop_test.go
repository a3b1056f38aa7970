package resource

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/rotor-idp/rotor/internal/dpoptest"
	"github.com/rotor-idp/rotor/resource/resourcetest"
)

// dpopRig is a resource server on loopback behind Authenticate, and a
// client key with a token bound to it.
type dpopRig struct {
	t     *testing.T
	iss   *resourcetest.Issuer
	v     *Verifier
	srv   *httptest.Server
	key   *dpoptest.Prover
	bound string // a token with cnf.jkt of key
}

func newDPoPRig(t *testing.T, mods ...func(*Config)) *dpopRig {
	iss := resourcetest.New(t)
	v := newVerifier(t, iss, mods...)
	srv := httptest.NewServer(v.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := ClaimsFrom(r.Context())
		io.WriteString(w, "hello "+c.Subject)
	})))
	t.Cleanup(srv.Close)
	key := dpoptest.New(t, "ES256")
	return &dpopRig{t: t, iss: iss, v: v, srv: srv, key: key, bound: boundToken(iss, key.JKT)}
}

func boundToken(iss *resourcetest.Issuer, jkt string) string {
	return iss.Token(resourcetest.WithClaims(func(c *resourcetest.Claims) {
		c.Extra = map[string]any{"cnf": map[string]any{"jkt": jkt}}
	}))
}

// call sends GET path with the Authorization value and DPoP proof ("" for none).
func (g *dpopRig) call(method, path, authz, proof string) response {
	g.t.Helper()
	req, _ := http.NewRequest(method, g.srv.URL+path, nil)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, strings.Join(resp.Header.Values("WWW-Authenticate"), " | "), strings.TrimSpace(string(body))}
}

func (g *dpopRig) proof(method, path, token string) string {
	return g.key.Proof(g.t, method, g.srv.URL+path, token, "")
}

func wantDPoPError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.Status != status || !strings.HasPrefix(r.WWWAuthenticate, `DPoP error="`+code+`"`) ||
		!strings.Contains(r.WWWAuthenticate, `algs="ES256 `) || r.Body != `{"error":"`+code+`"}` {
		t.Fatalf("got %+v, want %d with a DPoP %s challenge naming the algs (RFC 9449 §7.1)", r, status, code)
	}
}

func TestDPoPBoundTokenWithProof(t *testing.T) {
	g := newDPoPRig(t)
	if r := g.call("GET", "/things", "DPoP "+g.bound, g.proof("GET", "/things", g.bound)); r.Status != 200 || r.Body != "hello user-1" {
		t.Fatalf("got %+v", r)
	}
}

func TestDPoPAttacksAtResource(t *testing.T) {
	g := newDPoPRig(t)
	now := time.Now().Unix()
	url := g.srv.URL + "/things"
	signed := func(mod func(*dpoptest.Claims)) string {
		c := dpoptest.Claims{JTI: dpoptest.RandomJTI(), HTM: "GET", HTU: url, IAT: now, ATH: dpoptest.ATH(g.bound)}
		mod(&c)
		return g.key.Sign(t, c, "dpop+jwt", g.key.Public)
	}
	private, err := jwk.Import(g.key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	thief := dpoptest.New(t, "ES256")
	for name, proof := range map[string]string{
		"WrongHTU":                  signed(func(c *dpoptest.Claims) { c.HTU = g.srv.URL + "/other" }),
		"WrongHTM":                  signed(func(c *dpoptest.Claims) { c.HTM = "POST" }),
		"StaleIAT":                  signed(func(c *dpoptest.Claims) { c.IAT = now - 300 }),
		"MissingATH":                signed(func(c *dpoptest.Claims) { c.ATH = "" }),
		"ATHOfAnotherToken":         signed(func(c *dpoptest.Claims) { c.ATH = dpoptest.ATH("another") }),
		"TokenWithAnotherKeysProof": thief.Proof(t, "GET", url, g.bound, ""),
		"JWKWithPrivateMembers":     g.key.Sign(t, dpoptest.Claims{JTI: "j", HTM: "GET", HTU: url, IAT: now, ATH: dpoptest.ATH(g.bound)}, "dpop+jwt", private),
		"WrongTyp":                  g.key.Sign(t, dpoptest.Claims{JTI: "j2", HTM: "GET", HTU: url, IAT: now, ATH: dpoptest.ATH(g.bound)}, "JWT", g.key.Public),
		"NoProof":                   "",
		"GarbageProof":              "x.y.z",
		"AlgNone":                   "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6Im5vbmUifQ.e30.",
		"SymmetricAlg":              hmacProof(t, dpoptest.Claims{JTI: "j3", HTM: "GET", HTU: url, IAT: now, ATH: dpoptest.ATH(g.bound)}),
	} {
		t.Run(name, func(t *testing.T) {
			wantDPoPError(t, g.call("GET", "/things", "DPoP "+g.bound, proof), 401, "invalid_dpop_proof")
		})
	}
}

// hmacProof is a proof MACed (HS256) with a key it carries in its header.
func hmacProof(t *testing.T, c dpoptest.Claims) string {
	t.Helper()
	secret := []byte("a symmetric key, 32 bytes long..")
	key, err := jwk.Import(secret)
	if err != nil {
		t.Fatal(err)
	}
	h := jws.NewHeaders()
	_ = h.Set(jws.TypeKey, "dpop+jwt")
	_ = h.Set(jws.JWKKey, key)
	payload, _ := json.Marshal(c)
	out, err := jws.Sign(payload, jws.WithKey(jwa.HS256(), secret, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestDPoPProofReplayAtResource(t *testing.T) {
	g := newDPoPRig(t)
	p := g.proof("GET", "/things", g.bound)
	if r := g.call("GET", "/things", "DPoP "+g.bound, p); r.Status != 200 {
		t.Fatalf("first use: %+v", r)
	}
	wantDPoPError(t, g.call("GET", "/things", "DPoP "+g.bound, p), 401, "invalid_dpop_proof")

	burst := g.proof("GET", "/things", g.bound)
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if g.call("GET", "/things", "DPoP "+g.bound, burst).Status == 200 {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if n := ok.Load(); n != 1 {
		t.Fatalf("%d of 16 concurrent uses of one proof passed, want 1", n)
	}
}

func TestDPoPBoundTokenSentAsBearer(t *testing.T) {
	g := newDPoPRig(t)
	// Even with a valid proof alongside: the scheme says bearer (RFC 9449 §7.2).
	wantDPoPError(t, g.call("GET", "/things", "Bearer "+g.bound, g.proof("GET", "/things", g.bound)), 401, "invalid_token")
	wantDPoPError(t, g.call("GET", "/things", "Bearer "+g.bound, ""), 401, "invalid_token")
}

func TestDPoPUnboundTokenWithDPoPScheme(t *testing.T) {
	g := newDPoPRig(t)
	plain := g.iss.Token()
	wantDPoPError(t, g.call("GET", "/things", "DPoP "+plain, g.proof("GET", "/things", plain)), 401, "invalid_token")
}

// The verified-token cache spares the token's signature, never the proof.
func TestDPoPCachedTokenStillNeedsProof(t *testing.T) {
	g := newDPoPRig(t)
	for i := range 3 {
		if r := g.call("GET", "/things", "DPoP "+g.bound, g.proof("GET", "/things", g.bound)); r.Status != 200 {
			t.Fatalf("request %d: %+v", i, r)
		}
	}
	if s := g.v.Stats(); s.CacheHits < 2 {
		t.Fatalf("cache hits %d: the test did not exercise the cache", s.CacheHits)
	}
	wantDPoPError(t, g.call("GET", "/things", "DPoP "+g.bound, ""), 401, "invalid_dpop_proof")
	thief := dpoptest.New(t, "EdDSA")
	wantDPoPError(t, g.call("GET", "/things", "DPoP "+g.bound, thief.Proof(t, "GET", g.srv.URL+"/things", g.bound, "")), 401, "invalid_dpop_proof")
	wantDPoPError(t, g.call("GET", "/things", "Bearer "+g.bound, ""), 401, "invalid_token")
}

func TestDPoPRequired(t *testing.T) {
	g := newDPoPRig(t, func(c *Config) { c.RequireDPoP = true })
	wantDPoPError(t, g.call("GET", "/things", "Bearer "+g.iss.Token(), ""), 401, "invalid_token")
	r := g.call("GET", "/things", "", "")
	if r.Status != 401 || !strings.HasPrefix(r.WWWAuthenticate, `DPoP algs="`) || strings.Contains(r.WWWAuthenticate, "Bearer") {
		t.Fatalf("no token: %+v, want a lone DPoP challenge", r)
	}
	if r := g.call("GET", "/things", "DPoP "+g.bound, g.proof("GET", "/things", g.bound)); r.Status != 200 {
		t.Fatalf("bound token: %+v", r)
	}
}

func TestDPoPNoTokenChallengesBoth(t *testing.T) {
	g := newDPoPRig(t)
	r := g.call("GET", "/things", "", "")
	if r.Status != 401 || !strings.HasPrefix(r.WWWAuthenticate, `Bearer | DPoP algs="ES256 `) {
		t.Fatalf("got %+v, want Bearer and DPoP challenges", r)
	}
}

// Behind a proxy the proof names the URL the client used, not the one the
// server sees.
func TestDPoPExternalURL(t *testing.T) {
	g := newDPoPRig(t, func(c *Config) { c.ExternalURL = "https://api.example.com/v1" })
	ext := g.key.Proof(t, "GET", "https://api.example.com/v1/things", g.bound, "")
	if r := g.call("GET", "/things", "DPoP "+g.bound, ext); r.Status != 200 {
		t.Fatalf("proof for the external URL: %+v", r)
	}
	wantDPoPError(t, g.call("GET", "/things", "DPoP "+g.bound, g.proof("GET", "/things", g.bound)), 401, "invalid_dpop_proof")
}

func TestDPoPConfigRefusesSymmetricAlgs(t *testing.T) {
	iss := resourcetest.New(t)
	for _, algs := range [][]string{{"HS256"}, {"none"}, {"ES256", "XX1"}} {
		cfg := Config{Issuer: iss.URL(), Audience: resourcetest.Audience, DPoPAlgorithms: algs}
		if v, err := New(cfg); err == nil {
			v.Close()
			t.Errorf("New accepted DPoP algorithms %v", algs)
		}
	}
}
