package idp_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rotor-idp/rotor/idp"
)

// The attacks of issue 9 on codes and PKCE, each a named test (the others
// are in signin_attack_test.go).

// TestAttackCodeReplay: a code redeemed twice fails the second time and
// revokes what the first redemption issued (RFC 6749 §4.1.2).
func TestAttackCodeReplay(t *testing.T) {
	e := newEnv(t)
	secret := e.webClient(idp.ClientSpec{ID: "web", FirstParty: true})
	e.user("alice", alicePW)
	code := e.browser().signIn(t, "web", "alice", alicePW)
	first := e.exchange("web", secret, code, testVerifier, webRedirect)
	if first.status != http.StatusOK {
		t.Fatalf("first redemption: %d %s", first.status, first.raw)
	}
	wantError(t, e.exchange("web", secret, code, testVerifier, webRedirect), 400, "invalid_grant")
	wantError(t, e.refresh("web", secret, first.str("refresh_token"), nil), 400, "invalid_grant")
}

// TestAttackCodeReplayBurst: many redemptions of one code at once through
// HTTP: at most one gets tokens, and the replays revoke its refresh token.
func TestAttackCodeReplayBurst(t *testing.T) {
	e := newEnv(t)
	secret := e.webClient(idp.ClientSpec{ID: "web", FirstParty: true})
	e.user("alice", alicePW)
	for round := range 3 {
		code := e.browser().signIn(t, "web", "alice", alicePW)
		rs := burst(16, func(int) response { return e.exchange("web", secret, code, testVerifier, webRedirect) })
		ok := 0
		for _, r := range rs {
			switch {
			case r.status == http.StatusOK:
				ok++
				wantError(t, e.refresh("web", secret, r.str("refresh_token"), nil), 400, "invalid_grant")
			case r.status != http.StatusBadRequest || r.str("error") != "invalid_grant":
				t.Errorf("round %d: %d %s", round, r.status, r.raw)
			}
		}
		if ok > 1 {
			t.Errorf("round %d: %d redemptions of one code succeeded", round, ok)
		}
	}
}

// TestAttackCodeOfAnotherClient: a client presenting another client's code
// gets invalid_grant, and the code stays good for its own client.
func TestAttackCodeOfAnotherClient(t *testing.T) {
	e := newEnv(t)
	secret := e.webClient(idp.ClientSpec{ID: "web", FirstParty: true})
	evil := e.webClient(idp.ClientSpec{ID: "evil", FirstParty: true})
	e.webClient(idp.ClientSpec{ID: "evilpub", FirstParty: true, Public: true})
	e.user("alice", alicePW)
	code := e.browser().signIn(t, "web", "alice", alicePW)
	wantError(t, e.exchange("evil", evil, code, testVerifier, webRedirect), 400, "invalid_grant")
	wantError(t, e.exchange("evilpub", "", code, testVerifier, webRedirect), 400, "invalid_grant")
	if r := e.exchange("web", secret, code, testVerifier, webRedirect); r.status != http.StatusOK {
		t.Errorf("the rightful client after the attempts: %d %s", r.status, r.raw)
	}
}

// TestAttackMissingPKCE and TestAttackPlainPKCE: the authorization endpoint
// requires S256; the token endpoint requires the verifier.
func TestAttackMissingPKCE(t *testing.T) {
	e := newEnv(t)
	secret := e.webClient(idp.ClientSpec{ID: "web", FirstParty: true})
	e.user("alice", alicePW)
	q := e.browser().authorize(authzParams("web", "code_challenge", "", "code_challenge_method", "")).redirect(t)
	if q.Get("error") != "invalid_request" || q.Has("code") {
		t.Errorf("authorize without PKCE: %v", q)
	}
	code := e.browser().signIn(t, "web", "alice", alicePW)
	wantError(t, e.exchange("web", secret, code, "", webRedirect), 400, "invalid_request")
}

func TestAttackPlainPKCE(t *testing.T) {
	e := newEnv(t)
	e.webClient(idp.ClientSpec{ID: "web", FirstParty: true})
	for _, method := range []string{"plain", "", "s256", "none"} {
		q := e.browser().authorize(authzParams("web", "code_challenge", testVerifier, "code_challenge_method", method)).redirect(t)
		if q.Get("error") != "invalid_request" || q.Has("code") {
			t.Errorf("method %q: %v", method, q)
		}
	}
}

// TestAttackWrongVerifier: a wrong verifier gets invalid_grant and burns
// the code, so a thief cannot keep guessing.
func TestAttackWrongVerifier(t *testing.T) {
	e := newEnv(t)
	secret := e.webClient(idp.ClientSpec{ID: "web", FirstParty: true})
	e.user("alice", alicePW)
	code := e.browser().signIn(t, "web", "alice", alicePW)
	wantError(t, e.exchange("web", secret, code, strings.Repeat("x", 43), webRedirect), 400, "invalid_grant")
	wantError(t, e.exchange("web", secret, code, testVerifier, webRedirect), 400, "invalid_grant")
}

// TestAttackVerifierFromAnotherCode: the verifier of one sign-in does not
// redeem another's code.
func TestAttackVerifierFromAnotherCode(t *testing.T) {
	e := newEnv(t)
	secret := e.webClient(idp.ClientSpec{ID: "web", FirstParty: true})
	e.user("alice", alicePW)
	other := "another-verifier-another-verifier-another-verifier"
	code := e.browser().signIn(t, "web", "alice", alicePW, "code_challenge", challengeOf(other))
	wantError(t, e.exchange("web", secret, code, testVerifier, webRedirect), 400, "invalid_grant")
}
