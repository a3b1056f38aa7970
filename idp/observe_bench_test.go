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
// key ring, one bare and one with Metrics and an audit log file, served
// alternately request by request so that noise falls on both alike. It
// reports the observed server's time per request against the bare one's.
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
	serve := func(h http.Handler) time.Duration {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth("svc", secret)
		w := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(w, r)
		d := time.Since(start)
		if w.Code != http.StatusOK {
			b.Fatalf("token: %d %s", w.Code, w.Body)
		}
		return d
	}
	for _, h := range servers { // warm both (client cache, pools)
		for range 100 {
			serve(h)
		}
	}
	var spent [3]time.Duration
	b.ResetTimer()
	for i := range b.N {
		for j := range 3 { // rotate which goes first
			k := (i + j) % 3
			spent[k] += serve(servers[k])
		}
	}
	b.StopTimer()
	per := func(k int) float64 { return float64(spent[k]) / float64(b.N) }
	b.ReportMetric(per(0)/1e3, "bare-µs/req")
	b.ReportMetric(100*(per(1)-per(0))/per(0), "metrics-overhead-%")
	b.ReportMetric(100*(per(2)-per(0))/per(0), "metrics+audit-overhead-%")
}
