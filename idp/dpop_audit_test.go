package idp_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rotor-idp/rotor/internal/dpoptest"
)

// Refused assertions and proofs are audit events with a fixed reason, and
// neither the assertion nor the proof appears in the log; issued tokens say
// whether they are bound.
func TestAuditOfAssertionsAndProofs(t *testing.T) {
	e, _, log := observedEnv(t)
	k := e.keyClient("worker", "ES256")
	a := assertion(t, k, e.assertionClaims("worker"))
	if r := e.ccWithAssertion(a, nil); r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	wantError(t, e.ccWithAssertion(a, nil), http.StatusUnauthorized, "invalid_client")
	p := dpoptest.New(t, "EdDSA")
	proof := p.Proof(t, "GET", e.tokenURL(), "", "")
	f := map[string][]string{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion": {assertion(t, k, e.assertionClaims("worker"))}}
	wantError(t, e.post("/oauth2/token", f, withDPoP(proof)), http.StatusBadRequest, "invalid_dpop_proof")

	got := map[string]map[string]any{}
	for _, ev := range log.events(t) {
		got[ev["event"].(string)+"/"+ev["outcome"].(string)] = ev
	}
	if ev := got["client.assertion_refused/failure"]; ev == nil || ev["reason"] != "assertion jti already used" {
		t.Errorf("assertion refusal event: %v", ev)
	}
	if ev := got["dpop.proof_refused/failure"]; ev == nil || ev["reason"] != "dpop: htm does not match the request" {
		t.Errorf("proof refusal event: %v", ev)
	}
	if ev := got["token.issued/success"]; ev == nil || ev["dpop_bound"] != false {
		t.Errorf("token.issued event: %v", ev)
	}
	if s := log.String(); strings.Contains(s, a) || strings.Contains(s, proof) {
		t.Error("the audit log holds an assertion or a proof")
	}
}
