package idp_test

import (
	"net/http"
	"testing"

	"github.com/rotor-idp/rotor/idp"
)

// TestFamilyCap checks Config.MaxFamiliesPerUserClient on both ways a family
// starts: logins beyond the cap revoke the oldest families of that user and
// client (their refresh tokens are refused), keep the newest, and leave the
// user's families with another client alone.
func TestFamilyCap(t *testing.T) {
	const limit = 3
	e := newEnv(t, func(c *idp.Config) { c.MaxFamiliesPerUserClient = limit })
	t.Run("password", func(t *testing.T) {
		secret, first := e.loginFor("web")
		otherSecret := e.client(idp.ClientSpec{ID: "other", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read"}})
		other := e.login("other", otherSecret, "user-of-web", "correct horse battery staple").str("refresh_token")
		tokens := []string{first.str("refresh_token")}
		for range limit + 1 {
			tokens = append(tokens, e.login("web", secret, "user-of-web", "correct horse battery staple").str("refresh_token"))
		}
		for i, tok := range tokens {
			r := e.refresh("web", secret, tok, nil)
			if i < len(tokens)-limit {
				wantError(t, r, http.StatusBadRequest, "invalid_grant")
			} else if r.status != http.StatusOK {
				t.Errorf("family %d of %d (cap %d): refresh %d %s", i, len(tokens), limit, r.status, r.raw)
			}
		}
		if r := e.refresh("other", otherSecret, other, nil); r.status != http.StatusOK {
			t.Errorf("the user's family with another client: refresh %d %s", r.status, r.raw)
		}
	})
	t.Run("authorization_code", func(t *testing.T) {
		e.user("alice", alicePW)
		secret := e.webClient(idp.ClientSpec{ID: "app", FirstParty: true})
		var tokens []string
		b := e.browser()
		for range limit + 2 {
			code := b.signIn(t, "app", "alice", alicePW)
			tokens = append(tokens, e.exchange("app", secret, code, testVerifier, webRedirect).str("refresh_token"))
		}
		for i, tok := range tokens {
			r := e.refresh("app", secret, tok, nil)
			if i < len(tokens)-limit {
				wantError(t, r, http.StatusBadRequest, "invalid_grant")
			} else if r.status != http.StatusOK {
				t.Errorf("family %d of %d (cap %d): refresh %d %s", i, len(tokens), limit, r.status, r.raw)
			}
		}
	})
}
