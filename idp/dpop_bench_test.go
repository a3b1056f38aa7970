package idp_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/internal/dpoptest"
	"github.com/rotor-idp/rotor/internal/primitive"
)

// BenchmarkSenderConstrained measures what DPoP and private_key_jwt add to
// a client_credentials token, in this process's CPU (handler, jwx, the
// replay-cache write's driver work; not Postgres's own CPU), against one raw
// signature verification of the same algorithm timed in the same run:
// extra-x-verify is (CPU of the variant − CPU of the client-secret request)
// over one verification. Proofs and assertions are made before the clock
// starts, so the client's signing is not counted.
//
//	go test -run '^$' -bench BenchmarkSenderConstrained -benchtime 2000x ./idp/
func BenchmarkSenderConstrained(b *testing.B) {
	for _, alg := range []string{"ES256", "EdDSA"} {
		verify, err := primitive.Verify(alg)
		if err != nil {
			b.Fatal(err)
		}
		e := newEnv(b)
		secret := e.client(idp.ClientSpec{ID: "svc", GrantTypes: []string{"client_credentials"}, TokenAlg: "EdDSA"})
		key := e.keyClient("worker", alg, func(s *idp.ClientSpec) { s.TokenAlg = "EdDSA" })
		prover := dpoptest.New(b, alg)
		form := func(extra url.Values) string {
			f := url.Values{"grant_type": {"client_credentials"}}
			for k, v := range extra {
				f[k] = v
			}
			return f.Encode()
		}
		plain := func(int) *http.Request { return ccRequest(form(nil), "svc", secret, "") }
		variants := map[string]func(n int) func(int) *http.Request{
			"DPoP": func(n int) func(int) *http.Request {
				proofs := make([]string, n)
				for i := range proofs {
					proofs[i] = prover.Proof(b, "POST", e.tokenURL(), "", "")
				}
				return func(i int) *http.Request { return ccRequest(form(nil), "svc", secret, proofs[i]) }
			},
			"private_key_jwt": func(n int) func(int) *http.Request {
				bodies := make([]string, n)
				for i := range bodies {
					bodies[i] = form(url.Values{"client_assertion_type": {idp.AssertionType},
						"client_assertion": {assertion(b, key, e.assertionClaims("worker"))}})
				}
				return func(i int) *http.Request { return ccRequest(bodies[i], "", "", "") }
			},
		}
		for name, build := range variants {
			b.Run(name+"/"+alg, func(b *testing.B) {
				n := max(b.N, 50)
				verifyCPU, err := verify.CPUPerOp(n)
				if err != nil {
					b.Fatal(err)
				}
				variant := build(n)
				base := runCPU(b, e, n, plain)
				b.ResetTimer()
				extra := runCPU(b, e, n, variant) - base
				b.StopTimer()
				b.ReportMetric(float64(base)/float64(time.Microsecond), "base-cpu-µs/op")
				b.ReportMetric(float64(extra)/float64(time.Microsecond), "extra-cpu-µs/op")
				b.ReportMetric(float64(verifyCPU)/float64(time.Microsecond), "verify-µs")
				b.ReportMetric(float64(extra)/float64(verifyCPU), "extra-x-verify")
			})
		}
	}
}

func ccRequest(body, id, secret, proof string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		r.SetBasicAuth(id, secret)
	}
	if proof != "" {
		r.Header.Set("DPoP", proof)
	}
	return r
}

// runCPU serves n requests and returns this process's CPU per request.
func runCPU(b *testing.B, e *env, n int, req func(int) *http.Request) time.Duration {
	cpu0 := processCPU(b)
	for i := range n {
		w := httptest.NewRecorder()
		e.handler.ServeHTTP(w, req(i))
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	return (processCPU(b) - cpu0) / time.Duration(n)
}
