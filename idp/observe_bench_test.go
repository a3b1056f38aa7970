package idp_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/internal/audit"
)

// BenchmarkObservabilityOverhead measures what metrics and the audit log
// add to the token endpoint's cheapest hot path (client_credentials with
// EdDSA, the client from the cache): two servers over the same store and
// key ring: one bare, one with Metrics, one with Metrics and an audit log
// file, served in alternating blocks so that drift falls on all alike. It
// reports each observed server's CPU per request against the bare one's.
//
//	go test -run '^$' -bench BenchmarkObservabilityOverhead -benchtime 20000x ./idp/
func BenchmarkObservabilityOverhead(b *testing.B) {
	e := newEnv(b)
	secret := e.client(idp.ClientSpec{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}, TokenAlg: "EdDSA"})
	deps := idp.Deps{Users: e.store, Clients: e.store, Refresh: e.store, Sessions: e.store, Codes: e.store,
		Consents: e.store, Pinger: e.store, Keys: e.keys}
	f, err := os.Create(filepath.Join(b.TempDir(), "audit.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	metricsOnly, cfg := e.cfg, e.cfg
	metricsOnly.Metrics = idp.NewMetrics(prometheus.NewRegistry())
	cfg.Metrics, cfg.Audit = idp.NewMetrics(prometheus.NewRegistry()), audit.New(f)
	servers := [3]http.Handler{e.handler, idp.NewServer(metricsOnly, deps), idp.NewServer(cfg, deps)}
	body := url.Values{"grant_type": {"client_credentials"}}.Encode()
	b.Run("client_credentials/EdDSA", func(b *testing.B) {
		benchOverhead(b, servers, func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.SetBasicAuth("svc", secret)
			return r
		})
	})
	b.Run("jwks", func(b *testing.B) {
		benchOverhead(b, servers, func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil)
		})
	})
}

// benchOverhead serves the request newReq makes on each of servers (bare,
// metrics, metrics and audit) and reports the CPU each adds.
func benchOverhead(b *testing.B, servers [3]http.Handler, newReq func() *http.Request) {
	serve := func(h http.Handler) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, newReq())
		if w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	for _, h := range servers { // warm both (client cache, pools)
		for range 100 {
			serve(h)
		}
	}
	// Blocks of requests on each server in turn, in a rotating order,
	// measured in process CPU time (the audit writer's goroutine included):
	// wall time on a shared machine is mostly other people's work.
	const block = 200
	var spent [3]time.Duration
	var served [3]int
	b.ResetTimer()
	for i := 0; i < b.N; i += block {
		n := min(block, b.N-i)
		for j := range 3 {
			k := (i/block + j) % 3
			cpu := processCPU(b)
			for range n {
				serve(servers[k])
			}
			spent[k] += processCPU(b) - cpu
			served[k] += n
		}
	}
	b.StopTimer()
	per := func(k int) float64 { return float64(spent[k]) / float64(served[k]) }
	b.ReportMetric(per(0)/1e3, "bare-cpu-µs/req")
	b.ReportMetric(100*(per(1)-per(0))/per(0), "metrics-overhead-%")
	b.ReportMetric(100*(per(2)-per(0))/per(0), "metrics+audit-overhead-%")
}
