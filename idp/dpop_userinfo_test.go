package idp_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/internal/dpoptest"
)

// A public browser client's code exchange with a proof: the access token
// and the refresh family are bound to the key; UserInfo honours the binding
// and introspection reports it.
func TestDPoPAuthorizationCodeUserInfoAndIntrospection(t *testing.T) {
	e := newEnv(t)
	e.webClient(idp.ClientSpec{ID: "spa", Public: true, FirstParty: true, Scopes: []string{"openid", "profile", "read"}})
	rsSecret := e.client(idp.ClientSpec{ID: "rs", Introspect: true, GrantTypes: []string{"client_credentials"}})
	e.user("alice", alicePW)
	p := dpoptest.New(t, "EdDSA")
	code := e.browser().signIn(t, "spa", "alice", alicePW, "scope", "openid profile")
	r := e.post("/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {testVerifier},
		"redirect_uri": {webRedirect}, "client_id": {"spa"}}, withDPoP(p.Proof(t, "POST", e.tokenURL(), "", "")))
	if r.status != http.StatusOK || r.str("token_type") != "DPoP" || r.str("refresh_token") == "" {
		t.Fatalf("exchange: %d %s", r.status, r.raw)
	}
	at, rt := r.str("access_token"), r.str("refresh_token")
	ui := e.url + "/oauth2/userinfo"
	dpopAuth := func(proof string) func(*http.Request) {
		return func(req *http.Request) {
			req.Header.Set("Authorization", "DPoP "+at)
			if proof != "" {
				req.Header.Set("DPoP", proof)
			}
		}
	}
	if r := e.get("/oauth2/userinfo", dpopAuth(p.Proof(t, "GET", ui, at, ""))); r.status != 200 || r.str("preferred_username") != "alice" {
		t.Fatalf("userinfo with proof: %d %s", r.status, r.raw)
	}
	challenge := func(r response) string { return r.header.Get("WWW-Authenticate") }
	for name, r := range map[string]response{
		"DPoPBoundTokenSentAsBearer": e.get("/oauth2/userinfo", bearer(at)),
		"BoundTokenInTheBody":        e.post("/oauth2/userinfo", url.Values{"access_token": {at}}),
	} {
		if r.status != 401 || !strings.Contains(challenge(r), `error="invalid_token"`) || !strings.HasPrefix(challenge(r), "DPoP ") {
			t.Errorf("%s: %d %q", name, r.status, challenge(r))
		}
	}
	replayed := p.Proof(t, "GET", ui, at, "")
	e.get("/oauth2/userinfo", dpopAuth(replayed))
	thief := dpoptest.New(t, "EdDSA")
	for name, r := range map[string]response{
		"NoProof":                   e.get("/oauth2/userinfo", dpopAuth("")),
		"MissingATH":                e.get("/oauth2/userinfo", dpopAuth(p.Proof(t, "GET", ui, "", ""))),
		"WrongHTM":                  e.get("/oauth2/userinfo", dpopAuth(p.Proof(t, "POST", ui, at, ""))),
		"TokenWithAnotherKeysProof": e.get("/oauth2/userinfo", dpopAuth(thief.Proof(t, "GET", ui, at, ""))),
		"ProofReplay":               e.get("/oauth2/userinfo", dpopAuth(replayed)),
	} {
		if r.status != 401 || !strings.Contains(challenge(r), `error="invalid_dpop_proof"`) || !strings.Contains(challenge(r), `algs="`) {
			t.Errorf("%s: %d %q", name, r.status, challenge(r))
		}
	}

	in := e.post("/oauth2/introspect", url.Values{"token": {at}}, basicAuth("rs", rsSecret))
	if cnf, _ := in.json["cnf"].(map[string]any); in.str("token_type") != "DPoP" || cnf["jkt"] != p.JKT {
		t.Errorf("introspection of the access token: %s", in.raw)
	}

	// The family is bound: another key cannot refresh it, the holder can.
	refresh := func(proof string) response {
		return e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"spa"}}, withDPoP(proof))
	}
	wantError(t, refresh(thief.Proof(t, "POST", e.tokenURL(), "", "")), http.StatusBadRequest, "invalid_grant")
	if r := refresh(p.Proof(t, "POST", e.tokenURL(), "", "")); r.status != 200 || r.str("token_type") != "DPoP" {
		t.Fatalf("holder's refresh: %d %s", r.status, r.raw)
	}
}
