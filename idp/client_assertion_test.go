package idp_test

import (
	"crypto/rsa"
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

// keyClient registers a private_key_jwt client with the public half of a
// fresh key of alg and returns the key.
func (e *env) keyClient(id, alg string, mod ...func(*idp.ClientSpec)) *dpoptest.Prover {
	e.t.Helper()
	k := dpoptest.New(e.t, alg)
	pub, _ := k.Public.Clone()
	_ = pub.Set(jwk.AlgorithmKey, k.Alg)
	_ = pub.Set(jwk.KeyIDKey, "k1")
	set := jwk.NewSet()
	_ = set.AddKey(pub)
	raw, _ := json.Marshal(set)
	spec := idp.ClientSpec{ID: id, GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"},
		AuthMethod: idp.AuthPrivateKeyJWT, JWKS: raw}
	for _, m := range mod {
		m(&spec)
	}
	if secret := e.client(spec); secret != "" {
		e.t.Fatal("a private_key_jwt client got a secret")
	}
	return k
}

// assertion signs claims for client id with k, kid k1.
func assertion(t testing.TB, k *dpoptest.Prover, claims map[string]any) string {
	t.Helper()
	payload, _ := json.Marshal(claims)
	h := jws.NewHeaders()
	_ = h.Set(jws.KeyIDKey, "k1")
	out, err := jws.Sign(payload, jws.WithKey(k.Alg, k.Signer, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func (e *env) assertionClaims(id string) map[string]any {
	now := e.clock.Now().Unix()
	return map[string]any{"iss": id, "sub": id, "aud": e.tokenURL(), "exp": now + 60, "iat": now, "jti": dpoptest.RandomJTI()}
}

func (e *env) ccWithAssertion(a string, extra url.Values) response {
	e.t.Helper()
	f := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {idp.AssertionType}, "client_assertion": {a}}
	for k, v := range extra {
		f[k] = v
	}
	return e.post("/oauth2/token", f)
}

func TestPrivateKeyJWT(t *testing.T) {
	e := newEnv(t)
	for _, alg := range []string{"RS256", "PS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			id := "worker-" + strings.ToLower(alg)
			k := e.keyClient(id, alg)
			c := e.assertionClaims(id)
			if alg == "ES256" {
				c["aud"] = e.url // the issuer is an accepted audience too
			}
			r := e.ccWithAssertion(assertion(t, k, c), url.Values{"client_id": {id}})
			if r.status != http.StatusOK {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			if _, claims := e.verify(r.str("access_token")); claims["sub"] != id {
				t.Errorf("sub %v", claims["sub"])
			}
		})
	}
}

func TestPrivateKeyJWTAttacks(t *testing.T) {
	e := newEnv(t)
	k := e.keyClient("worker", "ES256")
	other := dpoptest.New(t, "ES256")
	now := e.clock.Now().Unix()
	with := func(mod func(map[string]any)) map[string]any {
		c := e.assertionClaims("worker")
		mod(c)
		return c
	}
	hs256WithPublicKey := func() string {
		// The classic confusion: HMAC keyed with the public key's bytes.
		pubJSON, _ := json.Marshal(k.Public)
		payload, _ := json.Marshal(e.assertionClaims("worker"))
		out, err := jws.Sign(payload, jws.WithKey(jwa.HS256(), pubJSON))
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	algNone := func() string {
		payload, _ := json.Marshal(e.assertionClaims("worker"))
		enc := base64.RawURLEncoding
		return enc.EncodeToString([]byte(`{"alg":"none","kid":"k1"}`)) + "." + enc.EncodeToString(payload) + "."
	}
	for name, a := range map[string]string{
		"AssertionForAnotherAudience": assertion(t, k, with(func(c map[string]any) { c["aud"] = "https://other-idp.example/token" })),
		"ExpiredAssertion":            assertion(t, k, with(func(c map[string]any) { c["exp"] = now - 1 })),
		"ExpiryTooFarAhead":           assertion(t, k, with(func(c map[string]any) { c["exp"] = now + 3600 })),
		"NoExpiry":                    assertion(t, k, with(func(c map[string]any) { delete(c, "exp") })),
		"NoJTI":                       assertion(t, k, with(func(c map[string]any) { delete(c, "jti") })),
		"IssuedInTheFuture":           assertion(t, k, with(func(c map[string]any) { c["iat"] = now + 600 })),
		"IssIsNotTheClient":           assertion(t, k, with(func(c map[string]any) { c["iss"] = "someone-else" })),
		"SignedWithTheWrongKey":       assertion(t, other, e.assertionClaims("worker")),
		"AlgNone":                     algNone(),
		"HS256WithThePublicKey":       hs256WithPublicKey(),
		"Garbage":                     "a.b.c",
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, e.ccWithAssertion(a, nil), http.StatusUnauthorized, "invalid_client")
		})
	}
	t.Run("WrongAssertionType", func(t *testing.T) {
		f := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:saml2-bearer"},
			"client_assertion": {assertion(t, k, e.assertionClaims("worker"))}}
		wantError(t, e.post("/oauth2/token", f), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("ClientIDDiffers", func(t *testing.T) {
		r := e.ccWithAssertion(assertion(t, k, e.assertionClaims("worker")), url.Values{"client_id": {"another"}})
		wantError(t, r, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("MixingMethods", func(t *testing.T) {
		a := assertion(t, k, e.assertionClaims("worker"))
		wantError(t, e.ccWithAssertion(a, url.Values{"client_secret": {"x"}}), http.StatusBadRequest, "invalid_request")
		f := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {idp.AssertionType}, "client_assertion": {a}}
		wantError(t, e.post("/oauth2/token", f, basicAuth("worker", "x")), http.StatusBadRequest, "invalid_request")
	})
	t.Run("SecretClientCannotUseAssertion", func(t *testing.T) {
		e.client(idp.ClientSpec{ID: "secret-svc", GrantTypes: []string{"client_credentials"}})
		wantError(t, e.ccWithAssertion(assertion(t, k, e.assertionClaims("secret-svc")), nil), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("KeyClientCannotUseSecretOrNone", func(t *testing.T) {
		wantError(t, e.clientCredentials("worker", "", nil), http.StatusUnauthorized, "invalid_client")
		wantError(t, e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"worker"}}), http.StatusUnauthorized, "invalid_client")
	})
}

func TestPrivateKeyJWTReplayedAssertion(t *testing.T) {
	e := newEnv(t)
	k := e.keyClient("worker", "EdDSA")
	a := assertion(t, k, e.assertionClaims("worker"))
	if r := e.ccWithAssertion(a, nil); r.status != http.StatusOK {
		t.Fatalf("first use: %d %s", r.status, r.raw)
	}
	wantError(t, e.ccWithAssertion(a, nil), http.StatusUnauthorized, "invalid_client")

	burst := assertion(t, k, e.assertionClaims("worker"))
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			body := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {idp.AssertionType}, "client_assertion": {burst}}.Encode()
			resp, err := http.Post(e.tokenURL(), "application/x-www-form-urlencoded", strings.NewReader(body))
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
		t.Fatalf("%d of 12 concurrent uses of one assertion succeeded, want 1", n)
	}
}

// private_key_jwt authenticates at revocation and introspection too, with
// the endpoint's own URL as an accepted audience.
func TestPrivateKeyJWTAtRevokeAndIntrospect(t *testing.T) {
	e := newEnv(t)
	k := e.keyClient("rs", "ES256")
	tok := e.ccWithAssertion(assertion(t, k, e.assertionClaims("rs")), nil).str("access_token")
	for _, path := range []string{"/oauth2/introspect", "/oauth2/revoke"} {
		c := e.assertionClaims("rs")
		c["aud"] = e.url + path
		token := tok
		if path == "/oauth2/revoke" {
			token = idp.RefreshTokenPrefix + strings.Repeat("A", 43) // unknown: 200 (RFC 7009 §2.2)
		}
		r := e.post(path, url.Values{"token": {token}, "client_assertion_type": {idp.AssertionType}, "client_assertion": {assertion(t, k, c)}})
		if r.status != http.StatusOK {
			t.Errorf("%s: %d %s", path, r.status, r.raw)
		}
		if path == "/oauth2/introspect" && r.json["active"] != true {
			t.Errorf("introspection: %s", r.raw)
		}
	}
}

func TestClientKeysRefusePrivateMaterial(t *testing.T) {
	k := dpoptest.New(t, "ES256")
	priv, _ := jwk.Import(k.Signer)
	_ = priv.Set(jwk.AlgorithmKey, jwa.ES256())
	set := jwk.NewSet()
	_ = set.AddKey(priv)
	raw, _ := json.Marshal(set)
	_, _, err := idp.NewClient(idp.ClientSpec{ID: "w", GrantTypes: []string{"client_credentials"}, Audiences: []string{"a"},
		AuthMethod: idp.AuthPrivateKeyJWT, JWKS: raw}, time.Now())
	if err == nil || !strings.Contains(err.Error(), "private member") {
		t.Fatalf("NewClient with a private key: %v, want a refusal naming the private member", err)
	}
	rsaKey := dpoptest.New(t, "RS256")
	pub, _ := jwk.Import(rsaKey.Signer.Public().(*rsa.PublicKey))
	for name, body := range map[string]string{
		"symmetric":        `{"keys":[{"kty":"oct","k":"c2VjcmV0","alg":"HS256"}]}`,
		"RSA without alg":  mustJSON(t, pub),
		"not a JWKS":       `[]`,
		"empty":            `{"keys":[]}`,
		"alg does not fit": `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","alg":"ES256"}]}`,
		"X25519 is no sig": `{"keys":[{"kty":"OKP","crv":"X25519","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}]}`,
		"HS256 declared":   `{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","alg":"HS256"}]}`,
	} {
		if name == "RSA without alg" {
			body = `{"keys":[` + body + `]}`
		}
		if _, err := idp.ParseClientJWKS([]byte(body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
