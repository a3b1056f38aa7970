package idp_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rotor-idp/rotor/idp"
)

func TestTokenEndpointErrors(t *testing.T) {
	e := newEnv(t)
	svc := e.client(idp.ClientSpec{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	web := e.client(idp.ClientSpec{ID: "web", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read"}})
	e.user("alice", "correct horse battery staple")

	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	tests := []struct {
		name        string
		body        string
		contentType string
		auth        func(*http.Request)
		status      int
		code        string
	}{
		{name: "no grant_type", body: form("scope", "read"), auth: basicAuth("svc", svc), status: 400, code: "invalid_request"},
		{name: "unknown grant_type", body: form("grant_type", "urn:made:up"), auth: basicAuth("svc", svc), status: 400, code: "unsupported_grant_type"},
		{name: "authorization_code not allowed for client", body: form("grant_type", "authorization_code", "code", "x"), auth: basicAuth("svc", svc), status: 400, code: "unauthorized_client"},
		{name: "grant not allowed for client", body: form("grant_type", "password", "username", "alice", "password", "correct horse battery staple"), auth: basicAuth("svc", svc), status: 400, code: "unauthorized_client"},
		{name: "repeated parameter", body: form("grant_type", "client_credentials", "scope", "read", "scope", "read"), auth: basicAuth("svc", svc), status: 400, code: "invalid_request"},
		{name: "JSON body", body: `{"grant_type":"client_credentials"}`, contentType: "application/json", auth: basicAuth("svc", svc), status: 400, code: "invalid_request"},
		{name: "no content type", body: form("grant_type", "client_credentials"), contentType: "-", auth: basicAuth("svc", svc), status: 400, code: "invalid_request"},
		{name: "malformed form", body: "grant_type=client_credentials&scope=%zz", auth: basicAuth("svc", svc), status: 400, code: "invalid_request"},
		{name: "basic and body credentials", body: form("grant_type", "client_credentials", "client_id", "svc", "client_secret", svc), auth: basicAuth("svc", svc), status: 400, code: "invalid_request"},
		{name: "wrong secret", body: form("grant_type", "client_credentials"), auth: basicAuth("svc", "rcs_wrong"), status: 401, code: "invalid_client"},
		{name: "wrong secret in body", body: form("grant_type", "client_credentials", "client_id", "svc", "client_secret", "nope"), status: 401, code: "invalid_client"},
		{name: "unknown client", body: form("grant_type", "client_credentials"), auth: basicAuth("ghost", svc), status: 401, code: "invalid_client"},
		{name: "no client authentication", body: form("grant_type", "client_credentials"), status: 401, code: "invalid_client"},
		{name: "confidential client without secret", body: form("grant_type", "client_credentials", "client_id", "svc"), status: 401, code: "invalid_client"},
		{name: "bearer instead of basic", body: form("grant_type", "client_credentials"), auth: func(r *http.Request) { r.Header.Set("Authorization", "Bearer x") }, status: 401, code: "invalid_client"},
		{name: "scope outside the client's", body: form("grant_type", "client_credentials", "scope", "admin"), auth: basicAuth("svc", svc), status: 400, code: "invalid_scope"},
		{name: "malformed scope", body: form("grant_type", "client_credentials", "scope", "read\"x"), auth: basicAuth("svc", svc), status: 400, code: "invalid_scope"},
		{name: "wrong password", body: form("grant_type", "password", "username", "alice", "password", "wrong password!"), auth: basicAuth("web", web), status: 400, code: "invalid_grant"},
		{name: "password missing", body: form("grant_type", "password", "username", "alice"), auth: basicAuth("web", web), status: 400, code: "invalid_request"},
		{name: "password over the cap", body: form("grant_type", "password", "username", "alice", "password", strings.Repeat("p", idp.MaxPasswordLen+1)), auth: basicAuth("web", web), status: 400, code: "invalid_request"},
		{name: "refresh_token missing", body: form("grant_type", "refresh_token"), auth: basicAuth("web", web), status: 400, code: "invalid_request"},
		{name: "malformed refresh token", body: form("grant_type", "refresh_token", "refresh_token", "rtr_short"), auth: basicAuth("web", web), status: 400, code: "invalid_grant"},
		{name: "unknown refresh token", body: form("grant_type", "refresh_token", "refresh_token", "rtr_"+strings.Repeat("A", 43)), auth: basicAuth("web", web), status: 400, code: "invalid_grant"},
		{name: "access token as refresh token", body: form("grant_type", "refresh_token", "refresh_token", "eyJ.eyJ.sig"), auth: basicAuth("web", web), status: 400, code: "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, e.url+"/oauth2/token", strings.NewReader(tt.body))
			switch tt.contentType {
			case "":
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			case "-":
			default:
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.auth != nil {
				tt.auth(req)
			}
			r := e.do(req)
			wantError(t, r, tt.status, tt.code)
			if tt.status == http.StatusUnauthorized && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("401 without a Basic challenge: %q", r.header.Get("WWW-Authenticate"))
			}
			assertNoLeak(t, r)
		})
	}
}

// assertNoLeak fails if an error body carries anything internal.
func assertNoLeak(t *testing.T, r response) {
	t.Helper()
	body := strings.ToLower(string(r.raw))
	for _, bad := range []string{"sql", "pg", "postgres", "panic", "goroutine", ".go:", "argon2", "$argon2id", "rcs_", "rtr_", "private", "stack", "dial tcp"} {
		if strings.Contains(body, bad) {
			t.Errorf("response body mentions %q: %s", bad, r.raw)
		}
	}
}

func TestOversizedBody(t *testing.T) {
	e := newEnv(t)
	svc := e.client(idp.ClientSpec{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	for _, path := range []string{"/oauth2/token", "/oauth2/revoke", "/oauth2/introspect"} {
		t.Run(path, func(t *testing.T) {
			body := "grant_type=client_credentials&pad=" + strings.Repeat("x", 1<<20)
			req, _ := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			basicAuth("svc", svc)(req)
			r := e.do(req)
			wantError(t, r, http.StatusRequestEntityTooLarge, "invalid_request")
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	r := e.get("/oauth2/token")
	if r.status != http.StatusMethodNotAllowed || !strings.Contains(r.header.Get("Allow"), "POST") {
		t.Fatalf("GET /oauth2/token: %d Allow=%q", r.status, r.header.Get("Allow"))
	}
}
