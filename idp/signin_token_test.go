package idp_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

func TestRefreshTokenIssuance(t *testing.T) {
	e := newEnv(t)
	e.user("alice", alicePW)
	tests := []struct {
		name  string
		spec  idp.ClientSpec
		scope string
		want  bool
	}{
		{"plain OAuth", idp.ClientSpec{ID: "plain", FirstParty: true}, "read", true},
		{"first-party OpenID Connect", idp.ClientSpec{ID: "fp", FirstParty: true}, "openid read", true},
		{"no refresh_token grant", idp.ClientSpec{ID: "norefresh", FirstParty: true, GrantTypes: []string{idp.GrantAuthorizationCode}}, "read", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret := e.webClient(tt.spec)
			code := e.browser().signIn(t, tt.spec.ID, "alice", alicePW, "scope", tt.scope)
			tok := e.exchange(tt.spec.ID, secret, code, testVerifier, webRedirect)
			if got := tok.str("refresh_token") != ""; got != tt.want || tok.status != http.StatusOK {
				t.Errorf("refresh token issued = %v, want %v: %s", got, tt.want, tok.raw)
			}
			if got := tok.str("id_token") != ""; got != strings.Contains(tt.scope, "openid") {
				t.Errorf("ID token issued = %v for scope %q", got, tt.scope)
			}
		})
	}
}

func TestTokenEndpointCodeRules(t *testing.T) {
	e := newEnv(t)
	secret := e.webClient(idp.ClientSpec{ID: "web", FirstParty: true})
	e.webClient(idp.ClientSpec{ID: "pub", FirstParty: true, Public: true})
	e.user("alice", alicePW)
	b := e.browser()

	t.Run("redirect_uri left out of both", func(t *testing.T) {
		code := b.signIn(t, "web", "alice", alicePW, "redirect_uri", "")
		if r := e.exchange("web", secret, code, testVerifier, ""); r.status != http.StatusOK {
			t.Errorf("%d %s", r.status, r.raw)
		}
	})
	t.Run("redirect_uri at the token endpoint only", func(t *testing.T) {
		code := b.signIn(t, "web", "alice", alicePW, "redirect_uri", "")
		wantError(t, e.exchange("web", secret, code, testVerifier, webRedirect), 400, "invalid_grant")
	})
	t.Run("redirect_uri required when it was sent", func(t *testing.T) {
		code := b.signIn(t, "web", "alice", alicePW)
		wantError(t, e.exchange("web", secret, code, testVerifier, ""), 400, "invalid_grant")
	})
	t.Run("public client", func(t *testing.T) {
		code := b.signIn(t, "pub", "alice", alicePW)
		if r := e.exchange("pub", "", code, testVerifier, webRedirect); r.status != http.StatusOK {
			t.Errorf("%d %s", r.status, r.raw)
		}
	})
	t.Run("wrong client secret", func(t *testing.T) {
		code := b.signIn(t, "web", "alice", alicePW)
		wantError(t, e.exchange("web", "wrong", code, testVerifier, webRedirect), 401, "invalid_client")
		// Not burned: the client can still redeem it.
		if r := e.exchange("web", secret, code, testVerifier, webRedirect); r.status != http.StatusOK {
			t.Errorf("after a failed client authentication: %d %s", r.status, r.raw)
		}
	})
	t.Run("expired", func(t *testing.T) {
		code := b.signIn(t, "web", "alice", alicePW)
		e.clock.Advance(idp.CodeTTL + time.Second)
		wantError(t, e.exchange("web", secret, code, testVerifier, webRedirect), 400, "invalid_grant")
	})
	t.Run("malformed code", func(t *testing.T) {
		wantError(t, e.exchange("web", secret, "not-a-code", testVerifier, webRedirect), 400, "invalid_grant")
	})
	t.Run("malformed verifier", func(t *testing.T) {
		code := b.signIn(t, "web", "alice", alicePW)
		wantError(t, e.exchange("web", secret, code, "short", webRedirect), 400, "invalid_request")
	})
	t.Run("disabled user", func(t *testing.T) {
		code := b.signIn(t, "web", "alice", alicePW)
		if err := e.store.SetUserDisabled(context.Background(), "alice", true, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		defer e.store.SetUserDisabled(context.Background(), "alice", false, e.clock.Now())
		wantError(t, e.exchange("web", secret, code, testVerifier, webRedirect), 400, "invalid_grant")
	})
}

func TestIDTokenAlgorithm(t *testing.T) {
	e := newEnv(t, func(c *idp.Config) { c.DefaultAlg = "EdDSA" })
	def := e.webClient(idp.ClientSpec{ID: "default", FirstParty: true})
	ed := e.webClient(idp.ClientSpec{ID: "ed", FirstParty: true, TokenAlg: "EdDSA"})
	e.user("alice", alicePW)
	b := e.browser()
	for _, tt := range []struct{ client, secret, want string }{{"default", def, "RS256"}, {"ed", ed, "EdDSA"}} {
		code := b.signIn(t, tt.client, "alice", alicePW)
		tok := e.exchange(tt.client, tt.secret, code, testVerifier, webRedirect)
		hdr, _ := e.verifyIDToken(tok.str("id_token"))
		if alg, _ := hdr.Algorithm(); alg.String() != tt.want {
			t.Errorf("client %s: ID token alg %v, want %s", tt.client, alg, tt.want)
		}
	}
}
