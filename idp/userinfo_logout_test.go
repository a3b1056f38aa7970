package idp_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

func TestUserInfo(t *testing.T) {
	e := newEnv(t)
	secret := e.webClient(idp.ClientSpec{ID: "web", FirstParty: true})
	cc := e.client(idp.ClientSpec{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"openid", "read"}})
	alice := e.user("alice", alicePW)
	verified := true
	if _, err := e.store.UpdateProfile(context.Background(), "alice", idp.ProfileUpdate{
		Email: ptr("alice@example.com"), EmailVerified: &verified, DisplayName: ptr("Alice Liddell"),
	}, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	token := func(scope string) string {
		code := b.signIn(t, "web", "alice", alicePW, "scope", scope)
		return e.exchange("web", secret, code, testVerifier, webRedirect).str("access_token")
	}
	full, onlyOpenID, noOpenID := token("openid profile email"), token("openid"), token("read")

	tests := []struct {
		name       string
		req        func() response
		status     int
		challenge  string // WWW-Authenticate
		wantClaims map[string]any
	}{
		{name: "every claim", req: func() response { return e.get("/oauth2/userinfo", bearer(full)) }, status: 200,
			wantClaims: map[string]any{"sub": alice.ID, "preferred_username": "alice", "name": "Alice Liddell", "email": "alice@example.com", "email_verified": true}},
		{name: "POST with the header", req: func() response { return e.post("/oauth2/userinfo", nil, bearer(onlyOpenID)) }, status: 200,
			wantClaims: map[string]any{"sub": alice.ID}},
		{name: "POST with the token in the body", req: func() response {
			return e.post("/oauth2/userinfo", url.Values{"access_token": {full}})
		}, status: 200, wantClaims: map[string]any{"sub": alice.ID, "preferred_username": "alice", "name": "Alice Liddell", "email": "alice@example.com", "email_verified": true}},
		{name: "no token", req: func() response { return e.get("/oauth2/userinfo") }, status: 401, challenge: `Bearer realm="rotor"`},
		{name: "garbage", req: func() response { return e.get("/oauth2/userinfo", bearer("a.b.c")) }, status: 401, challenge: `error="invalid_token"`},
		{name: "not a bearer header", req: func() response {
			return e.get("/oauth2/userinfo", func(r *http.Request) { r.Header.Set("Authorization", "Basic eDp5") })
		}, status: 400, challenge: `error="invalid_request"`},
		{name: "token twice", req: func() response {
			return e.post("/oauth2/userinfo", url.Values{"access_token": {full}}, bearer(full))
		}, status: 400, challenge: `error="invalid_request"`},
		{name: "no openid scope", req: func() response { return e.get("/oauth2/userinfo", bearer(noOpenID)) }, status: 403, challenge: `error="insufficient_scope"`},
		{name: "a client's own token", req: func() response {
			return e.get("/oauth2/userinfo", bearer(e.clientCredentials("svc", cc, nil).str("access_token")))
		}, status: 401, challenge: `error="invalid_token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.req()
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.raw)
			}
			if ch := r.header.Get("WWW-Authenticate"); !strings.Contains(ch, tt.challenge) {
				t.Errorf("WWW-Authenticate %q, want %q", ch, tt.challenge)
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
			}
			if tt.wantClaims == nil {
				return
			}
			if len(r.json) != len(tt.wantClaims) {
				t.Errorf("claims %v, want %v", r.json, tt.wantClaims)
			}
			for k, v := range tt.wantClaims {
				if r.json[k] != v {
					t.Errorf("%s = %v, want %v", k, r.json[k], v)
				}
			}
		})
	}

	t.Run("expired", func(t *testing.T) {
		e.clock.Advance(idp.DefaultAccessTokenTTL + time.Second)
		defer e.clock.Advance(-idp.DefaultAccessTokenTTL - time.Second)
		if r := e.get("/oauth2/userinfo", bearer(full)); r.status != 401 {
			t.Errorf("expired token: %d", r.status)
		}
	})
	t.Run("disabled user", func(t *testing.T) {
		if err := e.store.SetUserDisabled(context.Background(), "alice", true, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if r := e.get("/oauth2/userinfo", bearer(full)); r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
			t.Errorf("disabled user: %d %s", r.status, r.header)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// signedIn signs alice in to web in a new browser and returns the browser,
// the token response and the ID token.
func signedIn(t *testing.T, e *env, secret string) (*browser, response) {
	t.Helper()
	b := e.browser()
	code := b.signIn(t, "web", "alice", alicePW)
	tok := e.exchange("web", secret, code, testVerifier, webRedirect)
	if tok.status != http.StatusOK {
		t.Fatalf("exchange: %d %s", tok.status, tok.raw)
	}
	return b, tok
}

// hasSession reports whether the browser can get a code without a password.
func (b *browser) hasSession(t *testing.T) bool {
	t.Helper()
	r := b.authorize(authzParams("web", "prompt", "none"))
	return r.redirect(t).Get("code") != ""
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	secret := e.webClient(idp.ClientSpec{ID: "web", FirstParty: true})
	e.webClient(idp.ClientSpec{ID: "other", FirstParty: true})
	e.user("alice", alicePW)
	e.user("bob", alicePW)

	t.Run("with a valid hint: no question, back to the client", func(t *testing.T) {
		b, tok := signedIn(t, e, secret)
		r := b.get("/oauth2/logout?" + url.Values{
			"id_token_hint": {tok.str("id_token")}, "post_logout_redirect_uri": {webLogout}, "state": {"bye"},
		}.Encode())
		if r.status != http.StatusSeeOther || r.header.Get("Location") != webLogout+"?state=bye" {
			t.Fatalf("got %d Location %q", r.status, r.header.Get("Location"))
		}
		if b.hasSession(t) {
			t.Error("the session outlived the logout")
		}
		// The session's refresh tokens are revoked.
		wantError(t, e.refresh("web", secret, tok.str("refresh_token"), nil), 400, "invalid_grant")
	})
	t.Run("an expired hint is accepted", func(t *testing.T) {
		b, tok := signedIn(t, e, secret)
		e.clock.Advance(2 * idp.DefaultAccessTokenTTL)
		r := b.get("/oauth2/logout?" + url.Values{"id_token_hint": {tok.str("id_token")}}.Encode())
		if r.status != http.StatusOK || !strings.Contains(string(r.raw), "You have signed out") {
			t.Fatalf("got %d:\n%s", r.status, r.raw)
		}
		wantHTMLHeaders(t, r)
		if b.hasSession(t) {
			t.Error("the session outlived the logout")
		}
	})
	t.Run("without a hint: confirmation, with CSRF", func(t *testing.T) {
		b, tok := signedIn(t, e, secret)
		page := b.get("/oauth2/logout?" + url.Values{"client_id": {"web"}, "post_logout_redirect_uri": {webLogout}, "state": {"s"}}.Encode())
		if page.status != http.StatusOK || !strings.Contains(string(page.raw), "Sign out") {
			t.Fatalf("got %d, want the confirmation page:\n%s", page.status, page.raw)
		}
		wantHTMLHeaders(t, page)
		if !strings.Contains(page.header.Get("Content-Security-Policy"), "form-action 'self' https://app.example;") {
			t.Errorf("CSP %q does not let the confirmation redirect to the client", page.header.Get("Content-Security-Policy"))
		}
		if !b.hasSession(t) {
			t.Fatal("the confirmation page signed the user out")
		}
		action, f := page.form(t)
		forged := url.Values{}
		for k, v := range f {
			forged[k] = v
		}
		forged.Set("csrf_token", "1."+strings.Repeat("A", 43))
		if r := b.post(action, forged); r.status != http.StatusForbidden {
			t.Errorf("forged confirmation: %d", r.status)
		}
		if !b.hasSession(t) {
			t.Fatal("a forged confirmation signed the user out")
		}
		r := b.post(action, f)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != webLogout+"?state=s" {
			t.Fatalf("confirmed: %d %q", r.status, r.header.Get("Location"))
		}
		if b.hasSession(t) {
			t.Error("the session outlived the confirmed logout")
		}
		wantError(t, e.refresh("web", secret, tok.str("refresh_token"), nil), 400, "invalid_grant")
	})
	t.Run("another user's hint asks first", func(t *testing.T) {
		b, _ := signedIn(t, e, secret)
		bob := e.browser()
		code := bob.signIn(t, "web", "bob", alicePW)
		bobTok := e.exchange("web", secret, code, testVerifier, webRedirect)
		r := b.get("/oauth2/logout?" + url.Values{"id_token_hint": {bobTok.str("id_token")}}.Encode())
		if r.status != http.StatusOK || !strings.Contains(string(r.raw), `name="csrf_token"`) {
			t.Fatalf("got %d, want the confirmation page", r.status)
		}
		if !b.hasSession(t) {
			t.Error("alice was signed out by bob's hint")
		}
	})
	t.Run("no session", func(t *testing.T) {
		r := e.browser().get("/oauth2/logout")
		if r.status != http.StatusOK || !strings.Contains(string(r.raw), "You have signed out") {
			t.Errorf("got %d", r.status)
		}
	})
	t.Run("client_id other than the hint's", func(t *testing.T) {
		b, tok := signedIn(t, e, secret)
		r := b.get("/oauth2/logout?" + url.Values{"id_token_hint": {tok.str("id_token")}, "client_id": {"other"}}.Encode())
		if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
			t.Errorf("got %d %q, want the error page", r.status, r.header.Get("Location"))
		}
		if !b.hasSession(t) {
			t.Error("a refused logout signed the user out")
		}
	})
}

func TestSignInPagesHeaders(t *testing.T) {
	e := newEnv(t)
	e.webClient(idp.ClientSpec{ID: "third"})
	e.user("alice", alicePW)
	b := e.browser()
	login := b.authorize(authzParams("third"))
	consent := b.submitLogin(login, "alice", alicePW)
	bad := b.post("/login", url.Values{"request": {"x"}})
	errPage := b.authorize(authzParams("nobody"))
	for name, r := range map[string]response{"login": login, "consent": consent, "403": bad, "error": errPage} {
		t.Run(name, func(t *testing.T) { wantHTMLHeaders(t, r) })
	}
}
