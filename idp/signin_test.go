package idp_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rotor-idp/rotor/idp"
)

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
	if claims["sub"] != alice.ID || claims["client_id"] != "web" {
		t.Errorf("access token claims %v", claims)
	}
	if tok.str("id_token") == "" || tok.str("refresh_token") == "" {
		t.Errorf("token response %s", tok.raw)
	}
}
