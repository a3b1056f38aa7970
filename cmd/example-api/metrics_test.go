package main

import (
	"context"
	"net"
	"net/http"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rotor-idp/rotor/resource"
	"github.com/rotor-idp/rotor/resource/resourcetest"
)

// TestMetricsExportVerifierStats scrapes the API's /metrics after a good
// token, a repeat of it and a forged one, and finds the verifier's counts.
func TestMetricsExportVerifierStats(t *testing.T) {
	iss := resourcetest.New(t)
	v, err := resource.New(resource.Config{Issuer: iss.URL(), Audience: resourcetest.Audience})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ctx := t.Context()
	if err := v.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	good := iss.Token()
	for range 2 {
		if _, err := v.Verify(ctx, good); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.Verify(ctx, iss.Token(resourcetest.WithKey(iss.NewKey("EdDSA")))); err == nil {
		t.Fatal("a token of an unpublished key verified")
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = serveMetrics(mctx, ln, v) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string, labels ...string) float64 {
		t.Helper()
		f := fams[name]
		if f == nil {
			t.Fatalf("no %s in the scrape", name)
		}
	next:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
				}
				if !found {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
		t.Fatalf("no %s%v in the scrape", name, labels)
		return 0
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"resource_token_cache_hits_total", nil, 1},
		{"resource_token_cache_misses_total", nil, 2},
		{"resource_unknown_kid_total", nil, 1},
		{"resource_token_rejections_total", []string{"reason", "unknown_kid"}, 1},
		{"resource_jwks_fetch_failures_total", nil, 0},
	} {
		if got := value(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if value("resource_jwks_keys") < 1 || value("resource_jwks_fetches_total") < 1 {
		t.Error("no keys or no fetches reported")
	}
	if fams["go_goroutines"] == nil || fams["process_cpu_seconds_total"] == nil {
		t.Error("runtime or process collector missing")
	}
}
