package idp_test

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/rotor-idp/rotor/idp"
)

func TestRevoke(t *testing.T) {
	e := newEnv(t)
	secret, first := e.loginFor("web")
	otherSecret := e.client(idp.ClientSpec{ID: "other", GrantTypes: []string{"refresh_token"}, Scopes: []string{"read"}})
	rt := first.str("refresh_token")

	revoke := func(id, secret, tok string) response {
		return e.post("/oauth2/revoke", url.Values{"token": {tok}}, basicAuth(id, secret))
	}
	// Another client cannot revoke it, and is not told whether it exists.
	if r := revoke("other", otherSecret, rt); r.status != http.StatusOK {
		t.Fatalf("other client: %d %s", r.status, r.raw)
	}
	rt2 := e.refresh("web", secret, rt, nil).str("refresh_token")
	if rt2 == "" {
		t.Fatal("other client's revocation took effect")
	}
	if r := revoke("web", secret, rt2); r.status != http.StatusOK || len(r.raw) != 0 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	wantError(t, e.refresh("web", secret, rt2, nil), http.StatusBadRequest, "invalid_grant")

	// Unknown and malformed tokens: 200, nothing to say (RFC 7009 §2.2).
	for _, tok := range []string{"rtr_" + strings.Repeat("B", 43), "garbage"} {
		if r := revoke("web", secret, tok); r.status != http.StatusOK {
			t.Errorf("revoke %q: %d", tok, r.status)
		}
	}
	// Access tokens are self-contained.
	wantError(t, revoke("web", secret, first.str("access_token")), http.StatusBadRequest, "unsupported_token_type")
	wantError(t, e.post("/oauth2/revoke", url.Values{}, basicAuth("web", secret)), http.StatusBadRequest, "invalid_request")
	wantError(t, revoke("web", "wrong", rt2), http.StatusUnauthorized, "invalid_client")
}

func TestIntrospect(t *testing.T) {
	e := newEnv(t)
	secret, first := e.loginFor("web")
	rsSecret := e.client(idp.ClientSpec{ID: "resource-server", GrantTypes: []string{"client_credentials"}, Scopes: []string{"x"}, Introspect: true})
	e.client(idp.ClientSpec{ID: "spa", Public: true, AllowPublicPassword: true, GrantTypes: []string{"password"}, Scopes: []string{"read"}})

	introspect := func(auth func(*http.Request), tok string) response {
		return e.post("/oauth2/introspect", url.Values{"token": {tok}}, auth)
	}
	at := first.str("access_token")
	r := introspect(basicAuth("resource-server", rsSecret), at)
	if r.status != http.StatusOK || r.json["active"] != true || r.str("client_id") != "web" || r.str("scope") != "read write" ||
		r.str("token_type") != "Bearer" || r.str("iss") != e.url {
		t.Fatalf("access token: %d %s", r.status, r.raw)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Error("introspection response is cacheable")
	}

	rt := first.str("refresh_token")
	if r := introspect(basicAuth("web", secret), rt); r.json["active"] != true || r.str("client_id") != "web" {
		t.Errorf("own refresh token: %s", r.raw)
	}
	if r := introspect(basicAuth("resource-server", rsSecret), rt); r.json["active"] != false || len(r.json) != 1 {
		t.Errorf("someone else's refresh token: %s", r.raw)
	}

	e.refresh("web", secret, rt, nil) // spends rt
	for name, tok := range map[string]string{
		"spent refresh token": rt,
		"garbage":             "garbage",
		"tampered":            at[:len(at)-4] + "AAAA",
		"foreign JWT":         "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
	} {
		if r := introspect(basicAuth("web", secret), tok); r.status != http.StatusOK || r.json["active"] != false || len(r.json) != 1 {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}

	e.clock.Advance(16 * 60 * 1e9)
	if r := introspect(basicAuth("resource-server", rsSecret), at); r.json["active"] != false {
		t.Errorf("expired access token active: %s", r.raw)
	}

	// Only authenticated confidential clients may introspect (RFC 7662 §2.1).
	wantError(t, e.post("/oauth2/introspect", url.Values{"token": {at}}), http.StatusUnauthorized, "invalid_client")
	wantError(t, e.post("/oauth2/introspect", url.Values{"token": {at}, "client_id": {"spa"}}), http.StatusUnauthorized, "invalid_client")
}

func TestJWKS(t *testing.T) {
	e := newEnv(t)
	r := e.get("/.well-known/jwks.json")
	if r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	if cc := r.header.Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("Cache-Control = %q", cc)
	}
	etag := r.header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || len(etag) < 10 {
		t.Errorf("ETag = %q", etag)
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(r.raw, &doc); err != nil {
		t.Fatal(err)
	}
	// Each lane publishes its current and next key.
	var algs []string
	for _, k := range doc.Keys {
		algs = append(algs, k["alg"].(string))
		if k["use"] != "sig" {
			t.Errorf("use = %v", k["use"])
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("JWKS key has private member %q", private)
			}
		}
		raw, _ := json.Marshal(k)
		key, err := jwk.ParseKey(raw)
		if err != nil {
			t.Fatal(err)
		}
		tp, err := key.Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if k["kid"] != base64.RawURLEncoding.EncodeToString(tp) {
			t.Errorf("kid %v is not the RFC 7638 thumbprint", k["kid"])
		}
	}
	sort.Strings(algs)
	if diff := cmp.Diff([]string{"EdDSA", "EdDSA", "RS256", "RS256"}, algs); diff != "" {
		t.Errorf("algs (-want +got):\n%s", diff)
	}

	notModified := e.get("/.well-known/jwks.json", func(r *http.Request) { r.Header.Set("If-None-Match", etag) })
	if notModified.status != http.StatusNotModified || len(notModified.raw) != 0 || notModified.header.Get("ETag") != etag {
		t.Errorf("If-None-Match: %d %q", notModified.status, notModified.raw)
	}
	if r := e.get("/.well-known/jwks.json", func(r *http.Request) { r.Header.Set("If-None-Match", `"stale"`) }); r.status != http.StatusOK {
		t.Errorf("stale If-None-Match: %d", r.status)
	}
}

func TestMetadata(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		r := e.get(path)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d", path, r.status)
		}
		if r.str("issuer") != e.url || r.str("token_endpoint") != e.url+"/oauth2/token" || r.str("jwks_uri") != e.url+"/.well-known/jwks.json" ||
			r.str("revocation_endpoint") != e.url+"/oauth2/revoke" || r.str("introspection_endpoint") != e.url+"/oauth2/introspect" {
			t.Errorf("%s: %s", path, r.raw)
		}
	}
}

func TestHealth(t *testing.T) {
	e := newEnv(t)
	if r := e.get("/healthz"); r.status != http.StatusOK {
		t.Errorf("healthz %d", r.status)
	}
	if r := e.get("/readyz"); r.status != http.StatusOK {
		t.Errorf("readyz %d %s", r.status, r.raw)
	}
	e.store.Close()
	r := e.get("/readyz")
	if r.status != http.StatusServiceUnavailable || r.str("store") != "down" || r.str("keys") != "ok" {
		t.Errorf("readyz with the store closed: %d %s", r.status, r.raw)
	}
	// The JWKS is served from memory.
	if r := e.get("/.well-known/jwks.json"); r.status != http.StatusOK {
		t.Errorf("JWKS with the store closed: %d", r.status)
	}
}
