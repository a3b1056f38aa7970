package idp_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/internal/primitive"
)

// BenchmarkToken measures the token endpoint per grant and algorithm, in
// process (handler, Postgres round trips, signing; no network), and reports
// how many raw signatures one token costs (x-primitive), the signature being
// timed in the same benchmark on the same machine.
//
//	go test -run '^$' -bench BenchmarkToken -benchtime 2s ./idp/
func BenchmarkToken(b *testing.B) {
	for _, alg := range []string{"RS256", "EdDSA"} {
		prim, err := primitive.Sign(alg)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("client_credentials/"+alg, func(b *testing.B) {
			e := newEnv(b)
			secret := e.client(idp.ClientSpec{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}, TokenAlg: alg})
			body := url.Values{"grant_type": {"client_credentials"}}.Encode()
			benchGrant(b, prim, func() *http.Request {
				r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.SetBasicAuth("svc", secret)
				return r
			}, e, nil)
		})
		b.Run("refresh_token/"+alg, func(b *testing.B) {
			e := newEnv(b)
			secret := e.client(idp.ClientSpec{ID: "web", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read"}, TokenAlg: alg})
			e.user("alice", "correct horse battery staple")
			rt := e.login("web", secret, "alice", "correct horse battery staple").str("refresh_token")
			benchGrant(b, prim, func() *http.Request {
				r := httptest.NewRequest(http.MethodPost, "/oauth2/token",
					strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.SetBasicAuth("web", secret)
				return r
			}, e, func(body string) { rt = extract(b, body, "refresh_token") })
		})
		b.Run("password/"+alg, func(b *testing.B) {
			// OWASP argon2id parameters: the hash is the cost, by design.
			e := newEnv(b, func(c *idp.Config) { c.Argon2 = idp.DefaultArgon2 })
			secret := e.client(idp.ClientSpec{ID: "web", GrantTypes: []string{"password"}, Scopes: []string{"read"}, TokenAlg: alg})
			e.user("alice", "correct horse battery staple")
			body := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"correct horse battery staple"}}.Encode()
			benchGrant(b, prim, func() *http.Request {
				r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.SetBasicAuth("web", secret)
				return r
			}, e, nil)
		})
	}
}

// benchGrant reports two ratios against the raw signature: x-primitive in
// wall time, and cpu-x-primitive in CPU time — this process's user+system
// time per request (the handler, the database driver, the garbage
// collector; not Postgres) over the signature's on one thread. The second
// barely moves when other processes share the machine.
func benchGrant(b *testing.B, prim primitive.Op, req func() *http.Request, e *env, after func(body string)) {
	n := max(b.N, 50)
	primNs := float64(prim.PerOp(n).Nanoseconds())
	primCPU, err := prim.CPUPerOp(n)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := processCPU(b)
	b.ResetTimer()
	for range b.N {
		w := httptest.NewRecorder()
		e.handler.ServeHTTP(w, req())
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if after != nil {
			after(w.Body.String())
		}
	}
	b.StopTimer()
	cpuPerOp := float64((processCPU(b) - cpu0).Nanoseconds()) / float64(b.N)
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(perOp/primNs, "x-primitive")
	b.ReportMetric(primNs/float64(time.Microsecond), "primitive-µs")
	b.ReportMetric(cpuPerOp/float64(time.Microsecond), "cpu-µs/op")
	b.ReportMetric(cpuPerOp/float64(primCPU.Nanoseconds()), "cpu-x-primitive")
}

// processCPU is this process's user+system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func extract(b *testing.B, body, field string) string {
	key := fmt.Sprintf(`"%s":"`, field)
	i := strings.Index(body, key)
	if i < 0 {
		b.Fatalf("no %s in %s", field, body)
	}
	rest := body[i+len(key):]
	return rest[:strings.IndexByte(rest, '"')]
}
