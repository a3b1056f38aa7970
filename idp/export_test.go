package idp

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// TestHooks reach into a server for the tests in package idp_test, which
// cannot be in package idp because the stores they use import it.
type TestHooks struct{ s *server }

// NewServerForTest is NewServer plus hooks.
func NewServerForTest(cfg Config, deps Deps) (http.Handler, *TestHooks) {
	s := newServer(cfg, deps)
	return s.routes(), &TestHooks{s}
}

// Verifications is how many argon2id verifications the server has run.
func (h *TestHooks) Verifications() int64 { return h.s.hasher.verifications.Load() }

// HoldHashSlots takes every password-hashing slot until release is called.
func (h *TestHooks) HoldHashSlots() (release func()) {
	n := cap(h.s.hasher.slots)
	for range n {
		h.s.hasher.slots <- struct{}{}
	}
	return func() {
		for range n {
			<-h.s.hasher.slots
		}
	}
}

// MetricValue reads one of m's counters (or the request count of the HTTP
// histogram, "http") at labels.
func MetricValue(m *Metrics, name string, labels ...string) float64 {
	switch name {
	case "tokens_issued":
		return testutil.ToFloat64(m.tokensIssued.WithLabelValues(labels...))
	case "token_errors":
		return testutil.ToFloat64(m.tokenErrors.WithLabelValues(labels...))
	case "refresh_rotations":
		return testutil.ToFloat64(m.refreshRotations)
	case "refresh_reuse":
		return testutil.ToFloat64(m.refreshReuse)
	case "families_revoked":
		return testutil.ToFloat64(m.familiesRevoked.WithLabelValues(labels...))
	case "logins":
		return testutil.ToFloat64(m.logins.WithLabelValues(labels...))
	case "throttled":
		return testutil.ToFloat64(m.loginsThrottled.WithLabelValues(labels...))
	case "jwks":
		return testutil.ToFloat64(m.jwks.WithLabelValues(labels...))
	case "hash_rejected":
		return testutil.ToFloat64(m.hashRejected)
	case "http":
		var out dto.Metric
		if err := m.httpDuration.WithLabelValues(labels...).(prometheus.Metric).Write(&out); err != nil {
			panic(err)
		}
		return float64(out.GetHistogram().GetSampleCount())
	}
	panic("MetricValue: unknown metric " + name)
}
