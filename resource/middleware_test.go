package resource

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rotor-idp/rotor/resource/resourcetest"
)

type response struct {
	Status          int
	WWWAuthenticate string
	Body            string
}

func TestMiddleware(t *testing.T) {
	iss := resourcetest.New(t)
	v := newVerifier(t, iss)
	cold := newColdVerifier(t, iss, func(c *Config) { c.JWKSURL = "http://127.0.0.1:1/jwks.json"; c.HTTPTimeout = 100 * time.Millisecond })

	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, found := ClaimsFrom(r.Context())
		if !found {
			t.Error("no claims in the context")
		}
		io.WriteString(w, "hello "+c.Subject)
	})
	good := iss.Token()
	expired := iss.Token(resourcetest.WithClaims(func(c *resourcetest.Claims) { c.ExpiresAt = c.IssuedAt.Add(-2 * time.Minute) }))
	foreign := iss.Token(resourcetest.WithKey(iss.NewKey(resourcetest.RS256)))
	refresh := "rtr_" + strings.Repeat("A", 43)

	const (
		invalidToken   = `Bearer error="invalid_token", error_description="the access token is invalid"`
		invalidRequest = `Bearer error="invalid_request", error_description="malformed Authorization header"`
		twoMethods     = `Bearer error="invalid_request", error_description="access token in both the Authorization header and the query"`
	)
	tests := []struct {
		name    string
		v       *Verifier
		scopes  []string
		target  string
		headers []string // Authorization values
		want    response
	}{
		{"no token", v, nil, "/", nil, response{401, "Bearer", ""}},
		{"token in query only", v, nil, "/?access_token=" + good, nil, response{401, "Bearer", ""}},
		{"token in header and query", v, nil, "/?access_token=" + good, []string{"Bearer " + good}, response{400, twoMethods, `{"error":"invalid_request"}`}},
		{"token in header and query, among others", v, nil, "/?a=1&access_token=x&b", []string{"Bearer " + good}, response{400, twoMethods, `{"error":"invalid_request"}`}},
		{"empty access_token in the query", v, nil, "/?access_token=", []string{"Bearer " + good}, response{400, twoMethods, `{"error":"invalid_request"}`}},
		{"a look-alike parameter", v, nil, "/?access_token_hint=1&x=access_token", []string{"Bearer " + good}, response{200, "", "hello user-1"}},
		{"valid", v, nil, "/", []string{"Bearer " + good}, response{200, "", "hello user-1"}},
		{"scheme lower case", v, nil, "/", []string{"bearer " + good}, response{200, "", "hello user-1"}},
		{"scheme upper case, two spaces", v, nil, "/", []string{"BEARER  " + good}, response{200, "", "hello user-1"}},
		{"scope granted", v, []string{"read"}, "/", []string{"Bearer " + good}, response{200, "", "hello user-1"}},
		{"scopes granted", v, []string{"read", "write"}, "/", []string{"Bearer " + good}, response{200, "", "hello user-1"}},
		{"scope missing", v, []string{"admin"}, "/", []string{"Bearer " + good},
			response{403, `Bearer error="insufficient_scope", scope="admin"`, `{"error":"insufficient_scope"}`}},
		{"one of two scopes missing", v, []string{"read", "schedules:admin"}, "/", []string{"Bearer " + good},
			response{403, `Bearer error="insufficient_scope", scope="read schedules:admin"`, `{"error":"insufficient_scope"}`}},
		{"garbage token", v, nil, "/", []string{"Bearer abc"}, response{401, invalidToken, `{"error":"invalid_token"}`}},
		{"expired token", v, nil, "/", []string{"Bearer " + expired}, response{401, invalidToken, `{"error":"invalid_token"}`}},
		{"unknown key", v, nil, "/", []string{"Bearer " + foreign}, response{401, invalidToken, `{"error":"invalid_token"}`}},
		{"refresh token", v, nil, "/", []string{"Bearer " + refresh}, response{401, invalidToken, `{"error":"invalid_token"}`}},
		{"oversized token", v, nil, "/", []string{"Bearer " + strings.Repeat("a", MaxTokenSize+1)}, response{401, invalidToken, `{"error":"invalid_token"}`}},
		{"Basic credentials", v, nil, "/", []string{"Basic dXNlcjpwYXNz"}, response{400, invalidRequest, `{"error":"invalid_request"}`}},
		{"Bearer without token", v, nil, "/", []string{"Bearer"}, response{400, invalidRequest, `{"error":"invalid_request"}`}},
		{"Bearer and space", v, nil, "/", []string{"Bearer "}, response{400, invalidRequest, `{"error":"invalid_request"}`}},
		{"two tokens", v, nil, "/", []string{"Bearer " + good + " " + good}, response{400, invalidRequest, `{"error":"invalid_request"}`}},
		{"two tokens comma", v, nil, "/", []string{"Bearer " + good + ", Bearer " + good}, response{400, invalidRequest, `{"error":"invalid_request"}`}},
		{"two Authorization headers", v, nil, "/", []string{"Bearer " + good, "Bearer " + good}, response{400, invalidRequest, `{"error":"invalid_request"}`}},
		{"empty Authorization", v, nil, "/", []string{""}, response{400, invalidRequest, `{"error":"invalid_request"}`}},
		{"scheme glued to token", v, nil, "/", []string{"Bearer" + good}, response{400, invalidRequest, `{"error":"invalid_request"}`}},
		{"token with bad characters", v, nil, "/", []string{"Bearer a\"b"}, response{400, invalidRequest, `{"error":"invalid_request"}`}},
		{"keys unavailable", cold, nil, "/", []string{"Bearer " + good}, response{503, "", `{"error":"temporarily_unavailable"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h http.Handler = ok
			if tt.scopes != nil {
				h = RequireScope(tt.scopes...)(h)
			}
			h = tt.v.Authenticate(h)
			req := httptest.NewRequest("GET", tt.target, nil)
			for _, a := range tt.headers {
				req.Header.Add("Authorization", a)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := response{rec.Code, rec.Header().Get("WWW-Authenticate"), strings.TrimSpace(rec.Body.String())}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			if got.Status != 200 {
				if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control = %q", cc)
				}
				if ct := rec.Header().Get("Content-Type"); got.Body != "" && ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
			}
			// Nothing internal leaks: no kid, token, URL or error detail.
			all := got.Body
			for _, vals := range rec.Header() {
				all += " " + strings.Join(vals, " ")
			}
			for _, secret := range []string{
				iss.Current(resourcetest.RS256).ID, iss.Current(resourcetest.EdDSA).ID, iss.URL(), "127.0.0.1",
				"resource:", "kid", "expired", "signature", good[:20], "rtr_",
			} {
				if got.Status != 200 && strings.Contains(all, secret) {
					t.Errorf("response leaks %q: %s", secret, all)
				}
			}
		})
	}
}

func TestRequireScopeWithoutAuthenticate(t *testing.T) {
	h := RequireScope("read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("handler reached without claims")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 401 || rec.Header().Get("WWW-Authenticate") != "Bearer" {
		t.Errorf("got %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}

func TestRequireScopePanicsOnBadScope(t *testing.T) {
	for _, s := range []string{"", "a b", `a"b`, `a\b`, "é"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RequireScope(%q) did not panic", s)
				}
			}()
			RequireScope(s)
		}()
	}
}

func TestClaimsFromIsACopy(t *testing.T) {
	iss := resourcetest.New(t)
	v := newVerifier(t, iss)
	token := iss.Token()
	var first Claims
	h := v.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := ClaimsFrom(r.Context())
		first = c
		c.Subject = "admin"
		c.Audience()[0] = "evil"
		c2, _ := ClaimsFrom(r.Context())
		if c2.Subject != "user-1" || c2.Audience()[0] != resourcetest.Audience {
			t.Errorf("claims in the context changed: %+v", c2)
		}
	}))
	for range 2 {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	if first.Subject != "user-1" {
		t.Errorf("second request saw %q", first.Subject)
	}
}
