package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rotor-idp/rotor/resource"
)

// This file is the pattern for exporting resource.Verifier's statistics to
// Prometheus: the resource library stays free of Prometheus and offers
// Stats, and the application turns each scrape into metrics.

// verifierCollector reads Verifier.Stats at each scrape.
type verifierCollector struct {
	v     *resource.Verifier
	descs map[string]*prometheus.Desc
}

func newVerifierCollector(v *resource.Verifier) *verifierCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("resource_"+name, help, labels, nil)
	}
	return &verifierCollector{v: v, descs: map[string]*prometheus.Desc{
		"keys":        d("jwks_keys", "Usable keys in the current key set."),
		"age":         d("jwks_age_seconds", "Time since the key set was last fetched or confirmed (304)."),
		"fetches":     d("jwks_fetches_total", "HTTP requests for the JWKS."),
		"failures":    d("jwks_fetch_failures_total", "Failed JWKS fetches."),
		"consecutive": d("jwks_consecutive_failures", "Failed JWKS fetches since the last success."),
		"kid_misses":  d("unknown_kid_total", "Tokens whose kid was not in the key set."),
		"suppressed":  d("jwks_refetches_suppressed_total", "On-demand JWKS fetches refused inside the unknown-key floor."),
		"hits":        d("token_cache_hits_total", "Verified-token cache hits."),
		"misses":      d("token_cache_misses_total", "Verified-token cache misses."),
		"entries":     d("token_cache_entries", "Tokens in the verified-token cache."),
		"rejections":  d("token_rejections_total", "Tokens refused, by reason.", "reason"),
	}}
}

func (c *verifierCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *verifierCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.v.Stats()
	gauge := func(name string, v float64) {
		ch <- prometheus.MustNewConstMetric(c.descs[name], prometheus.GaugeValue, v)
	}
	counter := func(name string, v uint64) {
		ch <- prometheus.MustNewConstMetric(c.descs[name], prometheus.CounterValue, float64(v))
	}
	gauge("keys", float64(s.Keys))
	if !s.LastRefresh.IsZero() {
		gauge("age", s.KeySetAge.Seconds())
	}
	gauge("consecutive", float64(s.ConsecutiveFailures))
	gauge("entries", float64(s.CacheEntries))
	counter("fetches", s.Fetches)
	counter("failures", s.FetchFailures)
	counter("kid_misses", s.UnknownKIDs)
	counter("suppressed", s.RefetchesSuppressed)
	counter("hits", s.CacheHits)
	counter("misses", s.CacheMisses)
	for reason, n := range s.Rejections {
		ch <- prometheus.MustNewConstMetric(c.descs["rejections"], prometheus.CounterValue, float64(n), reason)
	}
}

// serveMetrics serves /metrics on its own listener until ctx ends.
func serveMetrics(ctx context.Context, ln net.Listener, v *resource.Verifier) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newVerifierCollector(v))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
