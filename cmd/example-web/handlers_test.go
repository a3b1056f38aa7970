package main

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// newTestApp is the app without a provider: enough for the paths that must
// answer before talking to Rotor.
func newTestApp(t *testing.T) (*app, http.Handler) {
	t.Helper()
	a := &app{
		issuer: "http://127.0.0.1:1", baseURL: "http://127.0.0.1:2", store: newMemStore(time.Hour),
		log: slog.New(slog.DiscardHandler), margin: 30 * time.Second,
		oauth: &oauth2.Config{ClientID: "web", Endpoint: oauth2.Endpoint{AuthURL: "http://127.0.0.1:1/oauth2/authorize"},
			RedirectURL: "http://127.0.0.1:2/callback", Scopes: []string{"openid"}},
	}
	return a, a.routes()
}

func serve(h http.Handler, method, target string, cookie *http.Cookie) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandlersBeforeRotor(t *testing.T) {
	a, h := newTestApp(t)

	rec := serve(h, "GET", "/", nil)
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != "/login" {
		t.Fatalf("/ without a session: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	for _, hd := range []string{"Content-Security-Policy", "X-Frame-Options", "Referrer-Policy", "Cache-Control"} {
		if rec.Header().Get(hd) == "" {
			t.Errorf("no %s", hd)
		}
	}

	rec = serve(h, "GET", "/login?reauth=1", nil)
	loc := rec.Header().Get("Location")
	if rec.Code != http.StatusFound || !strings.Contains(loc, "code_challenge_method=S256") || !strings.Contains(loc, "nonce=") || !strings.Contains(loc, "prompt=login") {
		t.Fatalf("/login?reauth=1: %d %q", rec.Code, loc)
	}
	var cookie *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == cookieName {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie %+v", cookie)
	}
	s, err := a.store.Get(cookie.Value)
	if err != nil || s.State == "" || s.Verifier == "" || strings.Contains(loc, s.Verifier) {
		t.Fatalf("pending sign-in %+v %v: want state and verifier stored, the verifier not in the URL", s, err)
	}

	for _, q := range []string{"state=forged&code=c", "code=c", "state=" + s.State + "x&code=c"} {
		if rec := serve(h, "GET", "/callback?"+q, cookie); rec.Code != http.StatusBadRequest {
			t.Errorf("callback ?%s: %d, want 400", q, rec.Code)
		}
	}
	if rec := serve(h, "GET", "/callback?state="+s.State+"&code=c", nil); rec.Code != http.StatusBadRequest {
		t.Errorf("callback with the right state but no session cookie: %d, want 400", rec.Code)
	}
	if rec := serve(h, "GET", "/callback?state="+s.State+"&iss=http://evil.example&code=c", cookie); rec.Code != http.StatusBadRequest {
		t.Errorf("callback from another issuer (RFC 9207): %d, want 400", rec.Code)
	}
	if rec := serve(h, "GET", "/callback?state="+s.State+"&error=access_denied", cookie); rec.Code != http.StatusForbidden || strings.Contains(rec.Body.String(), s.State) {
		t.Errorf("callback with an error: %d", rec.Code)
	}

	rec = serve(h, "POST", "/logout", nil)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/signed-out" {
		t.Errorf("logout without a session: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	if rec := serve(h, "GET", "/logout", cookie); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET /logout: %d, want 405 (a link or an image must not sign anyone out)", rec.Code)
	}
	if rec := serve(h, "GET", "/signed-out", nil); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `id="signed-out"`) {
		t.Errorf("/signed-out: %d", rec.Code)
	}
}
