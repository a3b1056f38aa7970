package idp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/rotor-idp/rotor/idp"
)

// verifyIDToken checks an ID token as a relying party would, against the
// published JWKS with jwx, and returns its header and claims.
func (e *env) verifyIDToken(token string) (jws.Headers, map[string]any) {
	e.t.Helper()
	set, err := jwk.Parse(e.get("/.well-known/jwks.json").raw)
	if err != nil {
		e.t.Fatal(err)
	}
	payload, err := jws.Verify([]byte(token), jws.WithKeySet(set, jws.WithRequireKid(true)))
	if err != nil {
		e.t.Fatalf("ID token does not verify against the JWKS: %v", err)
	}
	msg, err := jws.Parse([]byte(token))
	if err != nil {
		e.t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		e.t.Fatal(err)
	}
	return msg.Signatures()[0].ProtectedHeaders(), claims
}

func TestSignInCodeFlow(t *testing.T) {
	e := newEnv(t)
	secret := e.webClient(idp.ClientSpec{ID: "web", FirstParty: true})
	alice := e.user("alice", alicePW)
	b := e.browser()

	page := b.authorize(authzParams("web"))
	if page.status != http.StatusOK || !strings.Contains(string(page.raw), `autocomplete="current-password"`) {
		t.Fatalf("authorize without a session: %d\n%s", page.status, page.raw)
	}
	q := b.submitLogin(page, "alice", alicePW).redirect(t)
	if q.Get("state") != "st-123" || q.Get("iss") != e.url || q.Get("code") == "" {
		t.Fatalf("redirect query %v", q)
	}
	tok := e.exchange("web", secret, q.Get("code"), testVerifier, webRedirect)
	if tok.status != http.StatusOK {
		t.Fatalf("exchange: %d %s", tok.status, tok.raw)
	}
	_, claims := e.verify(tok.str("access_token"))
	if claims["sub"] != alice.ID || claims["client_id"] != "web" || claims["auth_time"] == nil {
		t.Errorf("access token claims %v", claims)
	}
	if tok.str("refresh_token") == "" || tok.str("scope") != "openid profile email read" {
		t.Errorf("token response %s", tok.raw)
	}
	hdr, id := e.verifyIDToken(tok.str("id_token"))
	if typ, _ := hdr.Type(); typ != "JWT" {
		t.Errorf("ID token typ %q, want JWT", typ)
	}
	if alg, _ := hdr.Algorithm(); alg.String() != "RS256" {
		t.Errorf("ID token alg %v, want RS256 (the default)", alg)
	}
	for k, want := range map[string]any{"iss": e.url, "sub": alice.ID, "aud": "web", "azp": "web", "nonce": "n-456"} {
		if id[k] != want {
			t.Errorf("ID token %s = %v, want %v", k, id[k], want)
		}
	}
	for _, k := range []string{"exp", "iat", "auth_time", "at_hash", "sid"} {
		if id[k] == nil {
			t.Errorf("ID token lacks %s: %v", k, id)
		}
	}
	// The access token and the ID token are not interchangeable.
	if r := e.get("/oauth2/userinfo", bearer(tok.str("id_token"))); r.status != http.StatusUnauthorized {
		t.Errorf("userinfo with the ID token: %d", r.status)
	}
	// The refresh token works and keeps the scope.
	if r := e.refresh("web", secret, tok.str("refresh_token"), nil); r.status != http.StatusOK || r.str("scope") != "openid profile email read" {
		t.Errorf("refresh: %d %s", r.status, r.raw)
	}
}

func bearer(tok string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func TestAuthorizeErrors(t *testing.T) {
	e := newEnv(t)
	e.webClient(idp.ClientSpec{ID: "web", FirstParty: true})
	e.webClient(idp.ClientSpec{ID: "two", FirstParty: true, RedirectURIs: []string{webRedirect, "https://app.example/other"}})
	e.webClient(idp.ClientSpec{ID: "norefresh", GrantTypes: []string{idp.GrantAuthorizationCode}})
	tests := []struct {
		name   string
		q      url.Values
		raw    string // instead of q
		page   bool   // an error page, no redirect
		code   string // the redirect's error
		noSate bool
	}{
		{name: "no client_id", q: authzParams("", "client_id", ""), page: true},
		{name: "unknown client", q: authzParams("nobody"), page: true},
		{name: "no redirect_uri, two registered", q: authzParams("two", "redirect_uri", ""), page: true},
		{name: "unregistered redirect_uri", q: authzParams("web", "redirect_uri", "https://evil.example/cb"), page: true},
		{name: "repeated client_id", raw: authzParams("web").Encode() + "&client_id=web", page: true},
		{name: "repeated redirect_uri", raw: authzParams("web").Encode() + "&redirect_uri=" + url.QueryEscape(webRedirect), page: true},
		{name: "malformed query", raw: "client_id=web&%zz", page: true},
		{name: "no response_type", q: authzParams("web", "response_type", ""), code: "invalid_request"},
		{name: "implicit", q: authzParams("web", "response_type", "token"), code: "unsupported_response_type"},
		{name: "hybrid", q: authzParams("web", "response_type", "code id_token"), code: "unsupported_response_type"},
		{name: "no code_challenge", q: authzParams("web", "code_challenge", ""), code: "invalid_request"},
		{name: "plain", q: authzParams("web", "code_challenge_method", "plain", "code_challenge", testVerifier), code: "invalid_request"},
		{name: "no code_challenge_method (plain by default)", q: authzParams("web", "code_challenge_method", ""), code: "invalid_request"},
		{name: "unknown method", q: authzParams("web", "code_challenge_method", "S512"), code: "invalid_request"},
		{name: "short challenge", q: authzParams("web", "code_challenge", "abc"), code: "invalid_request"},
		{name: "scope not registered", q: authzParams("web", "scope", "openid admin"), code: "invalid_scope"},
		{name: "offline_access without refresh_token", q: authzParams("norefresh", "scope", "openid offline_access"), code: "invalid_scope"},
		{name: "malformed scope", q: authzParams("web", "scope", "openid  read"), code: "invalid_scope"},
		{name: "prompt none with login", q: authzParams("web", "prompt", "none login"), code: "invalid_request"},
		{name: "unknown prompt", q: authzParams("web", "prompt", "bogus"), code: "invalid_request"},
		{name: "negative max_age", q: authzParams("web", "max_age", "-1"), code: "invalid_request"},
		{name: "max_age not a number", q: authzParams("web", "max_age", "1h"), code: "invalid_request"},
		{name: "request object", q: authzParams("web", "request", "eyJ.x.y"), code: "request_not_supported"},
		{name: "request_uri", q: authzParams("web", "request_uri", "https://app.example/r"), code: "request_uri_not_supported"},
		{name: "fragment response mode", q: authzParams("web", "response_mode", "fragment"), code: "invalid_request"},
		{name: "repeated scope", raw: authzParams("web").Encode() + "&scope=read", code: "invalid_request"},
		{name: "repeated state", raw: authzParams("web").Encode() + "&state=other", code: "invalid_request", noSate: true},
		{name: "state too long", q: authzParams("web", "state", strings.Repeat("s", 1025)), code: "invalid_request", noSate: true},
		{name: "prompt=none without a session", q: authzParams("web", "prompt", "none"), code: "login_required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.raw
			if raw == "" {
				raw = tt.q.Encode()
			}
			r := e.browser().get("/oauth2/authorize?" + raw)
			if tt.page {
				if r.status != http.StatusBadRequest || r.header.Get("Location") != "" || !strings.Contains(string(r.raw), `role="alert"`) {
					t.Fatalf("got %d Location %q, want the 400 error page:\n%s", r.status, r.header.Get("Location"), r.raw)
				}
				wantHTMLHeaders(t, r)
				return
			}
			loc, err := url.Parse(r.header.Get("Location"))
			if r.status != http.StatusSeeOther || err != nil || !strings.HasPrefix(loc.String(), webRedirect+"?") {
				t.Fatalf("got %d Location %q, want a redirect to the client:\n%s", r.status, r.header.Get("Location"), r.raw)
			}
			q := loc.Query()
			if q.Get("error") != tt.code || q.Get("error_description") == "" || q.Get("iss") != e.url {
				t.Errorf("redirect query %v, want error %s with a description and iss", q, tt.code)
			}
			if wantState := map[bool]string{false: "st-123", true: ""}[tt.noSate]; q.Get("state") != wantState {
				t.Errorf("state %q, want %q", q.Get("state"), wantState)
			}
			if q.Has("code") {
				t.Error("an error redirect carried a code")
			}
		})
	}
}

// wantHTMLHeaders checks the security headers every page carries.
func wantHTMLHeaders(t *testing.T, r response) {
	t.Helper()
	csp := r.header.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'none'", "style-src 'self'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP %q lacks %q", csp, d)
		}
	}
	if strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q allows scripts", csp)
	}
	for h, want := range map[string]string{
		"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
		"Content-Type": "text/html; charset=utf-8", "X-Content-Type-Options": "nosniff",
	} {
		if got := r.header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
}

func TestLoopbackRedirectAnyPort(t *testing.T) {
	e := newEnv(t)
	secret := e.webClient(idp.ClientSpec{ID: "native", FirstParty: true, RedirectURIs: []string{"http://127.0.0.1/cb"}})
	e.user("alice", alicePW)
	b := e.browser()
	redirect := "http://127.0.0.1:53124/cb"
	page := b.authorize(authzParams("native", "redirect_uri", redirect))
	resp := b.submitLogin(page, "alice", alicePW)
	if loc := resp.header.Get("Location"); !strings.HasPrefix(loc, redirect+"?") {
		t.Fatalf("Location %q, want the requested port", loc)
	}
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' http://127.0.0.1:53124;") {
		t.Errorf("login page CSP %q does not let the form's answer redirect to the client", csp)
	}
	code := resp.redirect(t).Get("code")
	if r := e.exchange("native", secret, code, testVerifier, redirect); r.status != http.StatusOK {
		t.Fatalf("exchange: %d %s", r.status, r.raw)
	}
}

func TestSingleSignOnAcrossClients(t *testing.T) {
	e := newEnv(t)
	sa := e.webClient(idp.ClientSpec{ID: "a", FirstParty: true})
	sb := e.webClient(idp.ClientSpec{ID: "b", FirstParty: true})
	alice := e.user("alice", alicePW)
	br := e.browser()
	codeA := br.signIn(t, "a", "alice", alicePW)
	before := e.hooks.Verifications()

	// Client b: no page at all, straight back with a code.
	q := br.authorize(authzParams("b")).redirect(t)
	if e.hooks.Verifications() != before {
		t.Error("the second sign-in hashed a password")
	}
	ta := e.exchange("a", sa, codeA, testVerifier, webRedirect)
	tb := e.exchange("b", sb, q.Get("code"), testVerifier, webRedirect)
	_, ida := e.verifyIDToken(ta.str("id_token"))
	_, idb := e.verifyIDToken(tb.str("id_token"))
	if ida["sub"] != alice.ID || idb["sub"] != alice.ID || ida["sid"] != idb["sid"] || ida["auth_time"] != idb["auth_time"] {
		t.Errorf("ID tokens of one session differ: %v / %v", ida, idb)
	}
	// prompt=none works with the session.
	if q := br.authorize(authzParams("b", "prompt", "none")).redirect(t); q.Get("code") == "" {
		t.Errorf("prompt=none with a session: %v", q)
	}
	// Another browser has no session.
	if r := e.browser().authorize(authzParams("b")); r.status != http.StatusOK || !strings.Contains(string(r.raw), `name="password"`) {
		t.Errorf("another browser got %d, want the login page", r.status)
	}
}

func TestPromptLoginAndMaxAge(t *testing.T) {
	e := newEnv(t)
	e.webClient(idp.ClientSpec{ID: "web", FirstParty: true})
	e.user("alice", alicePW)
	b := e.browser()
	b.signIn(t, "web", "alice", alicePW)
	first := b.sessionCookie(t)

	for _, tt := range []struct {
		name      string
		extra     []string
		wantLogin bool
	}{
		{name: "session enough", wantLogin: false},
		{name: "prompt=login", extra: []string{"prompt", "login"}, wantLogin: true},
		{name: "max_age not reached", extra: []string{"max_age", "3600"}, wantLogin: false},
		{name: "max_age=0 after a second", extra: []string{"max_age", "0"}, wantLogin: true},
		{name: "prompt=none past max_age", extra: []string{"max_age", "0", "prompt", "none"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.Advance(2 * time.Second)
			r := b.authorize(authzParams("web", tt.extra...))
			isLogin := r.status == http.StatusOK && strings.Contains(string(r.raw), `name="password"`)
			if isLogin != tt.wantLogin {
				t.Fatalf("login page shown = %v, want %v (%d)", isLogin, tt.wantLogin, r.status)
			}
			if tt.name == "prompt=none past max_age" {
				if q := r.redirect(t); q.Get("error") != "login_required" {
					t.Errorf("got %v, want login_required", q)
				}
			}
			if !tt.wantLogin {
				return
			}
			// Signing in again satisfies the request at once (no loop) and
			// starts a new session.
			q := b.submitLogin(r, "alice", alicePW).redirect(t)
			if q.Get("code") == "" {
				t.Fatalf("after the login: %v", q)
			}
			if b.sessionCookie(t) == first {
				t.Error("the session cookie did not change at the login")
			}
		})
	}
}

// sessionCookie is the browser's session cookie value.
func (b *browser) sessionCookie(t testing.TB) string {
	t.Helper()
	u, _ := url.Parse(b.e.url)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == idp.SessionCookie {
			return c.Value
		}
	}
	return ""
}

func TestConsent(t *testing.T) {
	e := newEnv(t)
	secret := e.webClient(idp.ClientSpec{ID: "third", Name: "Third Party App", Scopes: []string{"read", "write"}})
	alice := e.user("alice", alicePW)
	b := e.browser()

	page := b.submitLogin(b.authorize(authzParams("third")), "alice", alicePW)
	body := string(page.raw)
	if page.status != http.StatusOK || !strings.Contains(body, `value="allow"`) {
		t.Fatalf("after the login: %d, want the consent page\n%s", page.status, body)
	}
	wantHTMLHeaders(t, page)
	for _, s := range []string{"Third Party App", "Know who you are", "See your username and name", "See your email address", "<code>read</code>", "alice"} {
		if !strings.Contains(body, s) {
			t.Errorf("consent page lacks %q", s)
		}
	}
	q := b.submitConsent(page, "allow").redirect(t)
	tok := e.exchange("third", secret, q.Get("code"), testVerifier, webRedirect)
	if tok.status != http.StatusOK || tok.str("id_token") == "" {
		t.Fatalf("exchange after consent: %d %s", tok.status, tok.raw)
	}
	// OpenID Connect without offline_access: no refresh token for a
	// third-party client.
	if tok.str("refresh_token") != "" {
		t.Error("a refresh token without offline_access")
	}
	c, err := e.store.Consent(context.Background(), alice.ID, "third")
	if err != nil || !cmp.Equal(c.Scopes, []string{"email", "openid", "profile", "read"}) {
		t.Errorf("stored consent %v, %v", c.Scopes, err)
	}

	// Remembered: the same request gets a code at once, prompt=none too.
	if q := b.authorize(authzParams("third", "prompt", "none")).redirect(t); q.Get("code") == "" {
		t.Errorf("remembered consent: %v", q)
	}
	// A scope not consented to asks again; prompt=none then fails.
	if q := b.authorize(authzParams("third", "scope", "openid write", "prompt", "none")).redirect(t); q.Get("error") != "consent_required" {
		t.Errorf("new scope with prompt=none: %v", q)
	}
	page = b.authorize(authzParams("third", "scope", "openid write"))
	if !strings.Contains(string(page.raw), "<code>write</code>") {
		t.Fatalf("new scope: want the consent page\n%s", page.raw)
	}
	// Deny: access_denied, state and iss.
	q = b.submitConsent(page, "deny").redirect(t)
	if q.Get("error") != "access_denied" || q.Get("state") != "st-123" || q.Get("iss") != e.url {
		t.Errorf("deny: %v", q)
	}
	// prompt=consent asks even for what was granted; offline_access then
	// gives a refresh token.
	page = b.authorize(authzParams("third", "prompt", "consent", "scope", "openid offline_access"))
	if !strings.Contains(string(page.raw), "Stay signed in") {
		t.Fatalf("prompt=consent: want the consent page\n%s", page.raw)
	}
	q = b.submitConsent(page, "allow").redirect(t)
	if tok := e.exchange("third", secret, q.Get("code"), testVerifier, webRedirect); tok.str("refresh_token") == "" {
		t.Errorf("offline_access consented: no refresh token: %s", tok.raw)
	}
}

func TestDiscovery(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		r := e.get(path)
		var m map[string]any
		if err := json.Unmarshal(r.raw, &m); err != nil {
			t.Fatal(err)
		}
		for k, want := range map[string]any{
			"issuer":                 e.url,
			"authorization_endpoint": e.url + "/oauth2/authorize",
			"token_endpoint":         e.url + "/oauth2/token",
			"userinfo_endpoint":      e.url + "/oauth2/userinfo",
			"end_session_endpoint":   e.url + "/oauth2/logout",
			"jwks_uri":               e.url + "/.well-known/jwks.json",
			"authorization_response_iss_parameter_supported": true,
		} {
			if m[k] != want {
				t.Errorf("%s: %s = %v, want %v", path, k, m[k], want)
			}
		}
		for k, want := range map[string][]any{
			"response_types_supported":              {"code"},
			"response_modes_supported":              {"query"},
			"subject_types_supported":               {"public"},
			"code_challenge_methods_supported":      {"S256"},
			"id_token_signing_alg_values_supported": {"RS256", "EdDSA"},
			"scopes_supported":                      {"openid", "profile", "email", "offline_access"},
		} {
			if diff := cmp.Diff(want, m[k]); diff != "" {
				t.Errorf("%s: %s (-want +got):\n%s", path, k, diff)
			}
		}
		grants, _ := m["grant_types_supported"].([]any)
		if len(grants) == 0 || grants[0] != "authorization_code" {
			t.Errorf("grant_types_supported %v", grants)
		}
	}
}

func TestStyleSheet(t *testing.T) {
	e := newEnv(t)
	r := e.get("/static/rotor.css")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "text/css; charset=utf-8" || !strings.Contains(string(r.raw), "prefers-color-scheme: dark") {
		t.Fatalf("style sheet: %d %s", r.status, r.header)
	}
	etag := r.header.Get("ETag")
	if r := e.get("/static/rotor.css", func(q *http.Request) { q.Header.Set("If-None-Match", etag) }); r.status != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", r.status)
	}
}
