package idp_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
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
// over one verification. db-extra-cpu-µs/op is the same difference for the
// Postgres server's processes (the replay-cache insert), read from /proc.
// Proofs and assertions are made before the clock starts, so the client's
// signing is not counted.
//
// Each figure is measured three times: with one request at a time (the
// metrics without a prefix), and with 2 and 8 requests per GOMAXPROCS in
// flight (par2x-, par8x-), as a busy server serves them. One at a time, the
// variant's Postgres round trip leaves the process idle, and the Go
// scheduler's looking for work around it (netpoll, futex wake-ups) is
// counted as the variant's CPU; with requests in flight another request's
// work fills that wait, and the replay-cache inserts of requests that wait
// together go to Postgres as one statement.
//
//	go test -run '^$' -bench BenchmarkSenderConstrained -benchtime 3000x ./idp/
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
				variant := build(3 * n)
				b.ResetTimer()
				procs := runtime.GOMAXPROCS(0)
				for i, m := range []struct {
					prefix   string
					inFlight int
				}{{"", 1}, {"par2x-", 2 * procs}, {"par8x-", 8 * procs}} {
					part := func(j int) *http.Request { return variant(i*n + j) }
					measureExtra(b, e, n, m.inFlight, plain, part).report(b, m.prefix, verifyCPU)
				}
				b.StopTimer()
				b.ReportMetric(float64(verifyCPU)/float64(time.Microsecond), "verify-µs")
			})
		}
	}
}

// extraCPU is what a variant costs over the client-secret request, per
// request.
type extraCPU struct {
	base, extra, db time.Duration
}

// measureExtra serves n plain requests and then n of the variant, each with
// workers requests in flight, and returns the base CPU, the variant's extra
// CPU in this process and the Postgres server's extra CPU.
func measureExtra(b *testing.B, e *env, n, workers int, plain, variant func(int) *http.Request) extraCPU {
	db0 := dbCPU(b, e.dbURL)
	base := runCPU(b, e, n, workers, plain)
	db1 := dbCPU(b, e.dbURL)
	extra := runCPU(b, e, n, workers, variant) - base
	db := ((dbCPU(b, e.dbURL) - db1) - (db1 - db0)) / time.Duration(n)
	return extraCPU{base: base, extra: extra, db: db}
}

func (x extraCPU) report(b *testing.B, prefix string, verify time.Duration) {
	µs := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	b.ReportMetric(µs(x.db), prefix+"db-extra-cpu-µs/op")
	b.ReportMetric(µs(x.base), prefix+"base-cpu-µs/op")
	b.ReportMetric(µs(x.extra), prefix+"extra-cpu-µs/op")
	b.ReportMetric(float64(x.extra)/float64(verify), prefix+"extra-x-verify")
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

// runCPU serves n requests, workers at a time (each worker takes the next
// request number from a shared counter), and returns this process's CPU per
// request.
func runCPU(b *testing.B, e *env, n, workers int, req func(int) *http.Request) time.Duration {
	var next atomic.Int64
	var failed atomic.Pointer[string]
	var wg sync.WaitGroup
	cpu0 := processCPU(b)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				w := httptest.NewRecorder()
				e.handler.ServeHTTP(w, req(i))
				if w.Code != http.StatusOK {
					msg := fmt.Sprintf("status %d: %s", w.Code, w.Body)
					failed.CompareAndSwap(nil, &msg)
					return
				}
			}
		}()
	}
	wg.Wait()
	cpu := (processCPU(b) - cpu0) / time.Duration(n)
	if msg := failed.Load(); msg != nil {
		b.Fatal(*msg)
	}
	return cpu
}
