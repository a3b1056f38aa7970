package idp_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/internal/dpoptest"
)

// withDPoP sets the DPoP header of a request.
func withDPoP(proof string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("DPoP", proof) }
}

// dpopCC runs client_credentials with a DPoP proof.
func (e *env) dpopCC(id, secret, proof string) response {
	e.t.Helper()
	return e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, basicAuth(id, secret), withDPoP(proof))
}

func (e *env) tokenURL() string { return e.url + "/oauth2/token" }

func TestDPoPBindsClientCredentialsToken(t *testing.T) {
	e := newEnv(t)
	secret := e.client(idp.ClientSpec{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	for _, alg := range []string{"ES256", "EdDSA", "RS256", "PS256"} {
		t.Run(alg, func(t *testing.T) {
			p := dpoptest.New(t, alg)
			r := e.dpopCC("svc", secret, p.Proof(t, "POST", e.tokenURL(), "", ""))
			if r.status != http.StatusOK || r.str("token_type") != "DPoP" {
				t.Fatalf("got %d %s, want 200 with token_type DPoP", r.status, r.raw)
			}
			_, claims := e.verify(r.str("access_token"))
			cnf, _ := claims["cnf"].(map[string]any)
			if cnf["jkt"] != p.JKT {
				t.Errorf("cnf = %v, want jkt %s (RFC 9449 §6.1)", claims["cnf"], p.JKT)
			}
		})
	}
	// Without a proof the token stays a bearer token, without cnf.
	r := e.clientCredentials("svc", secret, nil)
	if _, claims := e.verify(r.str("access_token")); r.str("token_type") != "Bearer" || claims["cnf"] != nil {
		t.Errorf("unbound request: token_type %q, cnf %v", r.str("token_type"), claims["cnf"])
	}
}

func TestDPoPProofReplay(t *testing.T) {
	e := newEnv(t)
	secret := e.client(idp.ClientSpec{ID: "svc", GrantTypes: []string{"client_credentials"}})
	p := dpoptest.New(t, "ES256")
	proof := p.Proof(t, "POST", e.tokenURL(), "", "")
	if r := e.dpopCC("svc", secret, proof); r.status != http.StatusOK {
		t.Fatalf("first use: %d %s", r.status, r.raw)
	}
	wantError(t, e.dpopCC("svc", secret, proof), http.StatusBadRequest, "invalid_dpop_proof")

	// A burst of one fresh proof: exactly one request gets a token.
	burst := p.Proof(t, "POST", e.tokenURL(), "", "")
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", e.tokenURL(), stringsReader("grant_type=client_credentials"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("svc", secret)
			req.Header.Set("DPoP", burst)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if n := ok.Load(); n != 1 {
		t.Fatalf("%d of 12 concurrent uses of one proof got a token, want 1", n)
	}
}

func TestDPoPProofRefused(t *testing.T) {
	e := newEnv(t)
	secret := e.client(idp.ClientSpec{ID: "svc", GrantTypes: []string{"client_credentials"}})
	p := dpoptest.New(t, "ES256")
	now := time.Now().Unix()
	claims := func(mod func(*dpoptest.Claims)) dpoptest.Claims {
		c := dpoptest.Claims{JTI: dpoptest.RandomJTI(), HTM: "POST", HTU: e.tokenURL(), IAT: now}
		mod(&c)
		return c
	}
	private, err := jwk.Import(p.Signer)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		"WrongHTU":        p.Sign(t, claims(func(c *dpoptest.Claims) { c.HTU = e.url + "/oauth2/revoke" }), "dpop+jwt", p.Public),
		"WrongHTUHost":    p.Sign(t, claims(func(c *dpoptest.Claims) { c.HTU = "https://elsewhere.example/oauth2/token" }), "dpop+jwt", p.Public),
		"WrongHTM":        p.Sign(t, claims(func(c *dpoptest.Claims) { c.HTM = "GET" }), "dpop+jwt", p.Public),
		"StaleIAT":        p.Sign(t, claims(func(c *dpoptest.Claims) { c.IAT = now - 600 }), "dpop+jwt", p.Public),
		"FutureIAT":       p.Sign(t, claims(func(c *dpoptest.Claims) { c.IAT = now + 600 }), "dpop+jwt", p.Public),
		"NoJTI":           p.Sign(t, claims(func(c *dpoptest.Claims) { c.JTI = "" }), "dpop+jwt", p.Public),
		"WrongTyp":        p.Sign(t, claims(func(*dpoptest.Claims) {}), "JWT", p.Public),
		"NoJWK":           p.Sign(t, claims(func(*dpoptest.Claims) {}), "dpop+jwt", nil),
		"JWKWithPrivate":  p.Sign(t, claims(func(*dpoptest.Claims) {}), "dpop+jwt", private),
		"AnotherKeysJWK":  p.Sign(t, claims(func(*dpoptest.Claims) {}), "dpop+jwt", dpoptest.New(t, "ES256").Public),
		"SymmetricAlg":    hs256Proof(t, claims(func(*dpoptest.Claims) {})),
		"AlgNone":         noneProof(t, p, claims(func(*dpoptest.Claims) {})),
		"NotAJWS":         "not.a.jws",
		"TwoSignaturesNo": p.Proof(t, "POST", e.tokenURL(), "", "") + ".x",
	}
	for name, proof := range tests {
		t.Run(name, func(t *testing.T) {
			wantError(t, e.dpopCC("svc", secret, proof), http.StatusBadRequest, "invalid_dpop_proof")
		})
	}
	t.Run("TwoHeaders", func(t *testing.T) {
		r := e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, basicAuth("svc", secret), func(r *http.Request) {
			r.Header.Add("DPoP", p.Proof(t, "POST", e.tokenURL(), "", ""))
			r.Header.Add("DPoP", p.Proof(t, "POST", e.tokenURL(), "", ""))
		})
		wantError(t, r, http.StatusBadRequest, "invalid_dpop_proof")
	})
}

// hs256Proof is a proof MACed with a symmetric key that it carries in its
// header: whoever reads it could forge more.
func hs256Proof(t *testing.T, c dpoptest.Claims) string {
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

// noneProof is an unsigned proof (alg none) with a real public key.
func noneProof(t *testing.T, p *dpoptest.Prover, c dpoptest.Claims) string {
	t.Helper()
	jwkJSON, _ := json.Marshal(p.Public)
	hdr := `{"typ":"dpop+jwt","alg":"none","jwk":` + string(jwkJSON) + `}`
	payload, _ := json.Marshal(c)
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(hdr)) + "." + enc.EncodeToString(payload) + "."
}

func TestRequireDPoP(t *testing.T) {
	e := newEnv(t)
	secret := e.client(idp.ClientSpec{ID: "svc", GrantTypes: []string{"client_credentials"}, RequireDPoP: true})
	wantError(t, e.clientCredentials("svc", secret, nil), http.StatusBadRequest, "invalid_dpop_proof")
	p := dpoptest.New(t, "EdDSA")
	if r := e.dpopCC("svc", secret, p.Proof(t, "POST", e.tokenURL(), "", "")); r.status != http.StatusOK {
		t.Fatalf("with a proof: %d %s", r.status, r.raw)
	}
}

func TestDPoPRefreshOfBoundFamilyWithAnotherKey(t *testing.T) {
	e := newEnv(t)
	e.client(idp.ClientSpec{ID: "spa", Public: true, AllowPublicPassword: true, GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read"}})
	e.user("bob", "a long enough password")
	p := dpoptest.New(t, "ES256")
	login := e.post("/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {"spa"},
		"username": {"bob"}, "password": {"a long enough password"}}, withDPoP(p.Proof(t, "POST", e.tokenURL(), "", "")))
	if login.status != http.StatusOK || login.str("token_type") != "DPoP" {
		t.Fatalf("login: %d %s", login.status, login.raw)
	}
	rt := login.str("refresh_token")
	refresh := func(proof string) response {
		var opts []func(*http.Request)
		if proof != "" {
			opts = append(opts, withDPoP(proof))
		}
		return e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {"spa"}, "refresh_token": {rt}}, opts...)
	}
	thief := dpoptest.New(t, "ES256")
	wantError(t, refresh(thief.Proof(t, "POST", e.tokenURL(), "", "")), http.StatusBadRequest, "invalid_grant")
	wantError(t, refresh(""), http.StatusBadRequest, "invalid_grant")
	// The holder's refresh still works: the thief's attempts revoked nothing.
	r := refresh(p.Proof(t, "POST", e.tokenURL(), "", ""))
	if r.status != http.StatusOK || r.str("token_type") != "DPoP" {
		t.Fatalf("holder's refresh: %d %s", r.status, r.raw)
	}
	if _, claims := e.verify(r.str("access_token")); claims["cnf"].(map[string]any)["jkt"] != p.JKT {
		t.Errorf("refreshed token cnf %v", claims["cnf"])
	}
}

func TestDPoPNonceRequiredAndMissing(t *testing.T) {
	e := newEnv(t, func(c *idp.Config) { c.DPoPNonce = true })
	secret := e.client(idp.ClientSpec{ID: "svc", GrantTypes: []string{"client_credentials"}})
	p := dpoptest.New(t, "ES256")
	r := e.dpopCC("svc", secret, p.Proof(t, "POST", e.tokenURL(), "", ""))
	wantError(t, r, http.StatusBadRequest, "use_dpop_nonce")
	nonce := r.header.Get("DPoP-Nonce")
	if nonce == "" {
		t.Fatal("use_dpop_nonce without a DPoP-Nonce header (RFC 9449 §8)")
	}
	forged := base64.RawURLEncoding.EncodeToString(make([]byte, 24))
	wantError(t, e.dpopCC("svc", secret, p.Proof(t, "POST", e.tokenURL(), "", forged)), http.StatusBadRequest, "use_dpop_nonce")
	ok := e.dpopCC("svc", secret, p.Proof(t, "POST", e.tokenURL(), "", nonce))
	if ok.status != http.StatusOK || ok.header.Get("DPoP-Nonce") == "" {
		t.Fatalf("with the nonce: %d %s, DPoP-Nonce %q", ok.status, ok.raw, ok.header.Get("DPoP-Nonce"))
	}
	// A nonce lives one to two periods of five minutes, then is refused.
	e.clock.Advance(11 * time.Minute)
	late := dpoptest.Claims{JTI: dpoptest.RandomJTI(), HTM: "POST", HTU: e.tokenURL(), IAT: e.clock.Now().Unix(), Nonce: nonce}
	wantError(t, e.dpopCC("svc", secret, p.Sign(t, late, "dpop+jwt", p.Public)), http.StatusBadRequest, "use_dpop_nonce")
}

func TestDPoPMetadata(t *testing.T) {
	e := newEnv(t)
	var m struct {
		Algs []string `json:"dpop_signing_alg_values_supported"`
	}
	if err := json.Unmarshal(e.get("/.well-known/oauth-authorization-server").raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, a := range m.Algs {
		if a == "none" || a[:2] == "HS" {
			t.Errorf("metadata lists %s", a)
		}
	}
	if len(m.Algs) == 0 {
		t.Error("no dpop_signing_alg_values_supported (RFC 9449 §5.1)")
	}
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
