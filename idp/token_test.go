package idp_test

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/rotor-idp/rotor/idp"
)

func TestClientCredentials(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name     string
		tokenAlg string
		wantAlg  string
	}{
		{"server default", "", "RS256"},
		{"client asks RS256", "RS256", "RS256"},
		{"client asks EdDSA", "EdDSA", "EdDSA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "svc-" + strings.ToLower(strings.ReplaceAll(tt.name, " ", "-"))
			secret := e.client(idp.ClientSpec{ID: id, GrantTypes: []string{"client_credentials"}, Scopes: []string{"read", "write"}, TokenAlg: tt.tokenAlg})
			r := e.clientCredentials(id, secret, url.Values{"scope": {"read"}})
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", r.header.Get("Cache-Control"))
			}
			if r.str("token_type") != "Bearer" || r.json["expires_in"] != float64(900) || r.str("scope") != "read" {
				t.Errorf("response %s", r.raw)
			}
			if _, ok := r.json["refresh_token"]; ok {
				t.Error("client_credentials returned a refresh token (RFC 6749 §4.4.3)")
			}
			hdr, claims := e.verify(r.str("access_token"))
			if alg, _ := hdr.Algorithm(); alg.String() != tt.wantAlg {
				t.Errorf("alg = %v, want %s", alg, tt.wantAlg)
			}
			if typ, _ := hdr.Type(); typ != "at+jwt" {
				t.Errorf("typ = %q, want at+jwt (RFC 9068 §2.1)", typ)
			}
			if kid, _ := hdr.KeyID(); kid == "" {
				t.Error("no kid")
			}
			now := time.Now().Unix()
			if claims["iss"] != e.url || claims["sub"] != id || claims["client_id"] != id ||
				claims["aud"] != "https://api.example" || claims["scope"] != "read" {
				t.Errorf("claims %v", claims)
			}
			iat, exp := int64(claims["iat"].(float64)), int64(claims["exp"].(float64))
			if iat < now-5 || iat > now+5 || exp != iat+900 {
				t.Errorf("iat %d exp %d now %d", iat, exp, now)
			}
			if jti, _ := claims["jti"].(string); len(jti) < 16 {
				t.Errorf("jti %q", jti)
			}
		})
	}
}

func TestClientCredentialsSecretInBody(t *testing.T) {
	e := newEnv(t)
	secret := e.client(idp.ClientSpec{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}, Audiences: []string{"a", "b"}})
	r := e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {secret}})
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	_, claims := e.verify(r.str("access_token"))
	if diff := cmp.Diff([]any{"a", "b"}, claims["aud"]); diff != "" {
		t.Errorf("aud (-want +got):\n%s", diff)
	}
	if r.str("scope") != "read" {
		t.Errorf("scope defaulted to %q, want the client's scopes", r.str("scope"))
	}
}

func TestPasswordGrant(t *testing.T) {
	e := newEnv(t)
	secret := e.client(idp.ClientSpec{ID: "web", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"schedules:read", "schedules:write"}})
	u := e.user("alice", "correct horse battery staple")

	r := e.login("web", secret, "alice", "correct horse battery staple")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	_, claims := e.verify(r.str("access_token"))
	if claims["sub"] != u.ID || claims["client_id"] != "web" || claims["scope"] != "schedules:read schedules:write" {
		t.Errorf("claims %v", claims)
	}
	if claims["auth_time"] == nil {
		t.Error("no auth_time")
	}
	if rt := r.str("refresh_token"); !strings.HasPrefix(rt, idp.RefreshTokenPrefix) || len(rt) < 40 {
		t.Errorf("refresh_token %q", rt)
	}
}

func TestPasswordGrantWithoutRefreshGrantGivesNoRefreshToken(t *testing.T) {
	e := newEnv(t)
	secret := e.client(idp.ClientSpec{ID: "web", GrantTypes: []string{"password"}, Scopes: []string{"read"}})
	e.user("alice", "correct horse battery staple")
	r := e.login("web", secret, "alice", "correct horse battery staple")
	if r.status != http.StatusOK || r.str("refresh_token") != "" {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
}

func TestPublicClient(t *testing.T) {
	e := newEnv(t)
	e.client(idp.ClientSpec{ID: "spa", Public: true, AllowPublicPassword: true, GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read"}})
	e.user("bob", "a long enough password")
	r := e.login("spa", "", "bob", "a long enough password")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	r2 := e.refresh("spa", "", r.str("refresh_token"), nil)
	if r2.status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r2.status, r2.raw)
	}
	// A public client presenting a secret is not what it claims to be.
	r3 := e.refresh("spa", "made-up", r2.str("refresh_token"), nil)
	wantError(t, r3, http.StatusUnauthorized, "invalid_client")
}

// loginFor creates a confidential client allowed password + refresh and a
// user, and logs in.
func (e *env) loginFor(clientID string) (secret string, tok response) {
	e.t.Helper()
	secret = e.client(idp.ClientSpec{ID: clientID, GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read", "write"}})
	name := "user-of-" + clientID
	e.user(name, "correct horse battery staple")
	tok = e.login(clientID, secret, name, "correct horse battery staple")
	if tok.status != http.StatusOK {
		e.t.Fatalf("login: %d %s", tok.status, tok.raw)
	}
	return secret, tok
}

func TestRefreshRotates(t *testing.T) {
	e := newEnv(t)
	secret, first := e.loginFor("web")
	rt1 := first.str("refresh_token")

	second := e.refresh("web", secret, rt1, nil)
	if second.status != http.StatusOK {
		t.Fatalf("refresh: %d %s", second.status, second.raw)
	}
	rt2 := second.str("refresh_token")
	if rt2 == "" || rt2 == rt1 {
		t.Fatalf("refresh token not rotated: %q", rt2)
	}
	_, c1 := e.verify(first.str("access_token"))
	_, c2 := e.verify(second.str("access_token"))
	if c1["sub"] != c2["sub"] || c1["auth_time"] != c2["auth_time"] || c2["scope"] != "read write" {
		t.Errorf("claims after refresh %v, before %v", c2, c1)
	}
	third := e.refresh("web", secret, rt2, nil)
	if third.status != http.StatusOK {
		t.Fatalf("second refresh: %d %s", third.status, third.raw)
	}
}

func TestRefreshReplayRevokesFamily(t *testing.T) {
	e := newEnv(t)
	secret, first := e.loginFor("web")
	rt1 := first.str("refresh_token")
	rt2 := e.refresh("web", secret, rt1, nil).str("refresh_token")

	// An attacker replays the spent token: refused, and the family dies, so
	// the legitimate holder of rt2 must log in again (RFC 9700 §4.14.2).
	wantError(t, e.refresh("web", secret, rt1, nil), http.StatusBadRequest, "invalid_grant")
	wantError(t, e.refresh("web", secret, rt2, nil), http.StatusBadRequest, "invalid_grant")
}

func TestConcurrentRefreshOfOneToken(t *testing.T) {
	e := newEnv(t)
	secret, first := e.loginFor("web")
	rt := first.str("refresh_token")

	const n = 20
	results := make([]response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = e.refresh("web", secret, rt, nil)
		})
	}
	close(start)
	wg.Wait()
	var ok []response
	for _, r := range results {
		switch {
		case r.status == http.StatusOK:
			ok = append(ok, r)
		case r.status == http.StatusBadRequest && r.str("error") == "invalid_grant":
		default:
			t.Errorf("unexpected answer %d %s", r.status, r.raw)
		}
	}
	if len(ok) != 1 {
		t.Fatalf("%d of %d concurrent refreshes succeeded, want exactly 1", len(ok), n)
	}
	// The other 19 were replays of a spent token, so the family is revoked,
	// including the winner's new token.
	wantError(t, e.refresh("web", secret, ok[0].str("refresh_token"), nil), http.StatusBadRequest, "invalid_grant")
}

// TestRefreshReuseInterval: a client whose refresh answers were lost retries
// with the token it still holds. Within the interval the retry is answered,
// the token it returns works, and the family ends with exactly one live
// token, the client's; past the interval the retry is reuse.
func TestRefreshReuseInterval(t *testing.T) {
	for _, tt := range []struct {
		name        string
		lostAnswers int
	}{{"one lost answer", 1}, {"two lost answers", 2}} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *idp.Config) { c.RefreshReuseInterval = 30 * time.Second })
			secret, first := e.loginFor("web")
			rt1 := first.str("refresh_token")
			var lost []string // tokens of answers the client never saw
			for i := range tt.lostAnswers {
				r := e.refresh("web", secret, rt1, nil)
				if r.status != http.StatusOK {
					t.Fatalf("refresh %d: %d %s", i, r.status, r.raw)
				}
				lost = append(lost, r.str("refresh_token"))
			}
			retry := e.refresh("web", secret, rt1, nil)
			if retry.status != http.StatusOK {
				t.Fatalf("retry within the interval: %d %s", retry.status, retry.raw)
			}
			// The client carries on with what the retry gave it.
			next := e.refresh("web", secret, retry.str("refresh_token"), nil)
			if next.status != http.StatusOK {
				t.Fatalf("the retry's refresh token: %d %s", next.status, next.raw)
			}
			if diff := cmp.Diff([]string{hashHex(next.str("refresh_token"))}, e.liveTokens(rt1)); diff != "" {
				t.Errorf("live tokens of the family (-want +got):\n%s", diff)
			}
			// A token whose answer was lost is spent: presenting it is reuse,
			// which revokes the family, the client's token with it.
			wantError(t, e.refresh("web", secret, lost[0], nil), http.StatusBadRequest, "invalid_grant")
			wantError(t, e.refresh("web", secret, next.str("refresh_token"), nil), http.StatusBadRequest, "invalid_grant")
			if live := e.liveTokens(rt1); len(live) != 0 {
				t.Errorf("%d live tokens after reuse, want none", len(live))
			}
		})
	}

	t.Run("past the interval", func(t *testing.T) {
		e := newEnv(t, func(c *idp.Config) { c.RefreshReuseInterval = 30 * time.Second })
		secret, first := e.loginFor("web")
		rt1 := first.str("refresh_token")
		rt2 := e.refresh("web", secret, rt1, nil).str("refresh_token")
		e.clock.Advance(31 * time.Second)
		wantError(t, e.refresh("web", secret, rt1, nil), http.StatusBadRequest, "invalid_grant")
		wantError(t, e.refresh("web", secret, rt2, nil), http.StatusBadRequest, "invalid_grant")
	})
}

// liveTokens returns the hex SHA-256 of every token that would refresh in
// the family of token: unspent, in a family that is not revoked.
func (e *env) liveTokens(token string) []string {
	e.t.Helper()
	conn, err := pgx.Connect(context.Background(), e.dbURL)
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close(context.Background())
	key, _ := idp.RefreshTokenKey(token)
	rows, _ := conn.Query(context.Background(), `
		SELECT encode(t.hash, 'hex') FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
		WHERE f.id = (SELECT family_id FROM refresh_tokens WHERE hash = $1)
		  AND t.spent_at IS NULL AND f.revoked_at IS NULL ORDER BY 1`, key)
	live, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		e.t.Fatal(err)
	}
	return live
}

func hashHex(token string) string {
	key, _ := idp.RefreshTokenKey(token)
	return hex.EncodeToString(key)
}

func TestRefreshScopeNarrowsNeverWidens(t *testing.T) {
	e := newEnv(t)
	secret, first := e.loginFor("web")
	narrow := e.refresh("web", secret, first.str("refresh_token"), url.Values{"scope": {"read"}})
	if narrow.status != http.StatusOK || narrow.str("scope") != "read" {
		t.Fatalf("narrow: %d %s", narrow.status, narrow.raw)
	}
	// The new refresh token keeps the grant's full scope (RFC 6749 §6).
	full := e.refresh("web", secret, narrow.str("refresh_token"), nil)
	if full.status != http.StatusOK || full.str("scope") != "read write" {
		t.Fatalf("after narrowing: %d %s", full.status, full.raw)
	}
	rt := full.str("refresh_token")
	wantError(t, e.refresh("web", secret, rt, url.Values{"scope": {"read admin"}}), http.StatusBadRequest, "invalid_scope")
	// A refused widening does not spend the token.
	if r := e.refresh("web", secret, rt, nil); r.status != http.StatusOK {
		t.Fatalf("token spent by a refused request: %d %s", r.status, r.raw)
	}
}

func TestRefreshAbsoluteExpiry(t *testing.T) {
	e := newEnv(t, func(c *idp.Config) { c.RefreshTokenTTL = time.Hour })
	secret, first := e.loginFor("web")
	rt := first.str("refresh_token")
	for range 3 {
		e.clock.Advance(15 * time.Minute)
		r := e.refresh("web", secret, rt, nil)
		if r.status != http.StatusOK {
			t.Fatalf("refresh: %d %s", r.status, r.raw)
		}
		rt = r.str("refresh_token")
	}
	// 45 minutes in; rotation did not extend the family past one hour.
	e.clock.Advance(15 * time.Minute)
	wantError(t, e.refresh("web", secret, rt, nil), http.StatusBadRequest, "invalid_grant")
}

func TestRefreshBoundToClient(t *testing.T) {
	e := newEnv(t)
	_, first := e.loginFor("web")
	otherSecret := e.client(idp.ClientSpec{ID: "other", GrantTypes: []string{"refresh_token"}, Scopes: []string{"read", "write"}})
	wantError(t, e.refresh("other", otherSecret, first.str("refresh_token"), nil), http.StatusBadRequest, "invalid_grant")
}

func TestPasswordChangeAndDisableRevokeRefreshTokens(t *testing.T) {
	for _, tt := range []struct {
		name   string
		action func(e *env) error
	}{
		{"password change", func(e *env) error {
			h, err := idp.HashPassword("a brand new password", fastArgon2)
			if err != nil {
				return err
			}
			return e.store.SetPassword(context.Background(), "user-of-web", h, time.Now().UTC())
		}},
		{"disable", func(e *env) error {
			return e.store.SetUserDisabled(context.Background(), "user-of-web", true, time.Now().UTC())
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			secret, first := e.loginFor("web")
			if err := tt.action(e); err != nil {
				t.Fatal(err)
			}
			wantError(t, e.refresh("web", secret, first.str("refresh_token"), nil), http.StatusBadRequest, "invalid_grant")
		})
	}
}

func TestDeletedClientStopsWithinCacheTTL(t *testing.T) {
	e := newEnv(t)
	secret := e.client(idp.ClientSpec{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	if r := e.clientCredentials("svc", secret, nil); r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	if err := e.store.DeleteClient(context.Background(), "svc"); err != nil {
		t.Fatal(err)
	}
	// Within the TTL the cached record may still serve; past it, never.
	e.clock.Advance(idp.DefaultClientCacheTTL)
	wantError(t, e.clientCredentials("svc", secret, nil), http.StatusUnauthorized, "invalid_client")
}

func TestClientCacheDisabled(t *testing.T) {
	e := newEnv(t, func(c *idp.Config) { c.ClientCacheTTL = -1 })
	secret := e.client(idp.ClientSpec{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	if r := e.clientCredentials("svc", secret, nil); r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	if err := e.store.DeleteClient(context.Background(), "svc"); err != nil {
		t.Fatal(err)
	}
	wantError(t, e.clientCredentials("svc", secret, nil), http.StatusUnauthorized, "invalid_client")
}
