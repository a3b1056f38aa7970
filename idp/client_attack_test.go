package idp_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// TestIntrospectionOfOthersTokens: a client_credentials service that may
// not introspect learns nothing about a user's access token, however often
// it asks (RFC 7662 §2.2 lets the server answer inactive); a resource server
// registered with Introspect learns sub and scope; every client learns
// about its own tokens.
func TestIntrospectionOfOthersTokens(t *testing.T) {
	e := newEnv(t)
	_, user := e.loginFor("web")
	svcSecret := e.client(idp.ClientSpec{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"x"}})
	rsSecret := e.client(idp.ClientSpec{ID: "rs", GrantTypes: []string{"client_credentials"}, Scopes: []string{"x"}, Introspect: true})
	own := e.clientCredentials("svc", svcSecret, nil)
	if own.status != http.StatusOK {
		t.Fatalf("client_credentials: %d %s", own.status, own.raw)
	}
	introspect := func(id, secret, tok string) response {
		return e.post("/oauth2/introspect", url.Values{"token": {tok}}, basicAuth(id, secret))
	}

	for i, r := range burst(20, func(int) response { return introspect("svc", svcSecret, user.str("access_token")) }) {
		if r.status != http.StatusOK || r.json["active"] != false || len(r.json) != 1 {
			t.Fatalf("svc introspecting a user's token (%d of the burst): %d %s, want {\"active\":false}", i, r.status, r.raw)
		}
	}
	if r := introspect("svc", svcSecret, own.str("access_token")); r.json["active"] != true || r.str("sub") != "svc" {
		t.Errorf("svc introspecting its own token: %s", r.raw)
	}
	if r := introspect("rs", rsSecret, user.str("access_token")); r.json["active"] != true || r.str("sub") == "" || r.str("scope") == "" {
		t.Errorf("rs (Introspect) introspecting a user's token: %s", r.raw)
	}
	// Refresh tokens stay their own client's business, Introspect or not.
	if r := introspect("rs", rsSecret, user.str("refresh_token")); r.json["active"] != false {
		t.Errorf("rs introspecting a user's refresh token: %s", r.raw)
	}
}

// TestRevokeInvalidTokens: RFC 7009 §2.2 answers 200 for invalid tokens,
// whatever their shape; only a valid access token of the caller's own gets
// unsupported_token_type, since Rotor does not revoke access tokens.
func TestRevokeInvalidTokens(t *testing.T) {
	e := newEnv(t)
	secret, first := e.loginFor("web")
	_, other := e.loginFor("other")
	at := first.str("access_token")
	parts := strings.Split(at, ".")
	forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	revoke := func(tok string) response {
		return e.post("/oauth2/revoke", url.Values{"token": {tok}}, basicAuth("web", secret))
	}
	for _, tok := range []string{"a.b.c", "..", "eyJhbGciOiJub25lIn0.e30.", forged, other.str("access_token")} {
		if r := revoke(tok); r.status != http.StatusOK || len(r.raw) != 0 {
			t.Errorf("revoke %.40q: %d %s, want 200 and no body", tok, r.status, r.raw)
		}
	}
	for i, r := range burst(10, func(int) response { return revoke("a.b.c") }) {
		if r.status != http.StatusOK {
			t.Fatalf("revoke a.b.c (%d of the burst): %d %s", i, r.status, r.raw)
		}
	}
	wantError(t, revoke(at), http.StatusBadRequest, "unsupported_token_type")
	// Expired: invalid, hence 200.
	e.clock.Advance(time.Hour)
	if r := revoke(at); r.status != http.StatusOK {
		t.Errorf("revoke an expired access token: %d %s", r.status, r.raw)
	}
}

// TestPublicPasswordClient: a public client with the password grant is
// password login with no client authentication; it is refused unless asked
// for explicitly, and a public client may not introspect.
func TestPublicPasswordClient(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name    string
		spec    idp.ClientSpec
		wantErr string
	}{
		{"public with password", idp.ClientSpec{ID: "spa", Public: true, GrantTypes: []string{"password"}}, "allow-public-password"},
		{"public with password and refresh", idp.ClientSpec{ID: "spa", Public: true, GrantTypes: []string{"password", "refresh_token"}}, "allow-public-password"},
		{"public with password, allowed", idp.ClientSpec{ID: "spa", Public: true, AllowPublicPassword: true, GrantTypes: []string{"password"}}, ""},
		{"confidential with password", idp.ClientSpec{ID: "web", GrantTypes: []string{"password"}}, ""},
		{"allow-public-password on a confidential client", idp.ClientSpec{ID: "web", AllowPublicPassword: true, GrantTypes: []string{"password"}}, "for public clients"},
		{"public introspecting", idp.ClientSpec{ID: "spa", Public: true, Introspect: true, GrantTypes: []string{"refresh_token"}}, "cannot introspect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Audiences = []string{"https://api"}
			_, _, err := idp.NewClient(tt.spec, now)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("NewClient: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("NewClient: %v, want an error about %q", err, tt.wantErr)
			}
		})
	}
}

// TestClientIDCannotBeAUserID: a client_credentials token's sub is the
// client ID, a user's the user ID (RFC 9068 §5): a client whose ID is, or
// could be, a user's ID is refused, so the two never collide.
func TestClientIDCannotBeAUserID(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice", "correct horse battery staple")
	for _, id := range []string{u.ID, "AAAAAAAAAAAAAAAAAAAAAA", "abcdefghijklmnopqrstuw"} {
		_, _, err := idp.NewClient(idp.ClientSpec{ID: id, GrantTypes: []string{"client_credentials"}, Audiences: []string{"https://api"}}, time.Now())
		if err == nil || !strings.Contains(err.Error(), "user ID") {
			t.Errorf("NewClient(%q): %v, want refused as a possible user ID", id, err)
		}
	}
	// Near misses are ordinary IDs.
	for _, id := range []string{"AAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAA.", "schedules-api"} {
		if _, _, err := idp.NewClient(idp.ClientSpec{ID: id, GrantTypes: []string{"client_credentials"}, Audiences: []string{"https://api"}}, time.Now()); err != nil {
			t.Errorf("NewClient(%q): %v", id, err)
		}
	}
}
