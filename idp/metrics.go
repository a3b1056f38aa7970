package idp

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rotor-idp/rotor/keys"
)

// Metrics are the IdP's Prometheus collectors. Every label set is bounded
// by the code or the configuration: route patterns, status classes, grant
// types, algorithms, RFC 6749 error codes, fixed reasons and store
// operation names — never a client, user, kid or token. A nil *Metrics
// records nothing, at no cost.
type Metrics struct {
	httpDuration     *prometheus.HistogramVec
	tokensIssued     *prometheus.CounterVec
	tokenErrors      *prometheus.CounterVec
	refreshRotations prometheus.Counter
	refreshReuse     prometheus.Counter
	familiesRevoked  *prometheus.CounterVec
	introspections   *prometheus.CounterVec
	revocations      *prometheus.CounterVec
	hashInFlight     prometheus.Gauge
	hashWait         prometheus.Histogram
	hashRejected     prometheus.Counter
	logins           *prometheus.CounterVec
	loginsThrottled  *prometheus.CounterVec
	jwks             *prometheus.CounterVec
	storeErrors      *prometheus.CounterVec
}

// NewMetrics makes the IdP's collectors and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rotor_http_request_duration_seconds",
			Help:    "HTTP requests by chi route pattern, method and status class (2xx…5xx); _count is the request count.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method", "status_class"}),
		tokensIssued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rotor_tokens_issued_total",
			Help: "Access tokens issued by the token endpoint, by grant type and signing algorithm.",
		}, []string{"grant", "alg"}),
		tokenErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rotor_token_errors_total",
			Help: "Token-endpoint error responses by RFC 6749 §5.2 error code.",
		}, []string{"error"}),
		refreshRotations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rotor_refresh_rotations_total",
			Help: "Refresh tokens spent and replaced (RFC 9700 §4.14.2 rotation).",
		}),
		refreshReuse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rotor_refresh_reuse_detected_total",
			Help: "Spent refresh tokens presented again (reuse detection); each revokes its family.",
		}),
		familiesRevoked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rotor_refresh_families_revoked_total",
			Help: "Refresh-token families revoked by the server, by reason (reuse, client, family_limit).",
		}, []string{"reason"}),
		introspections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rotor_introspections_total",
			Help: "Successful RFC 7662 introspections by answer (active true or false).",
		}, []string{"active"}),
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rotor_revocations_total",
			Help: "Successful RFC 7009 revocation requests, by whether a family was revoked.",
		}, []string{"revoked"}),
		hashInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rotor_argon2_in_flight",
			Help: "Password hashes holding a hashing slot now.",
		}),
		hashWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "rotor_argon2_wait_seconds",
			Help:    "Time password checks waited for a hashing slot (granted or not).",
			Buckets: []float64{.0001, .001, .01, .05, .1, .25, .5, 1, 2, 5},
		}),
		hashRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rotor_argon2_rejections_total",
			Help: "Password checks refused (503) because no hashing slot came free in time.",
		}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rotor_logins_total",
			Help: "Password sign-ins (login page and password grant) by outcome: succeeded, failed, throttled, busy.",
		}, []string{"outcome"}),
		loginsThrottled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rotor_logins_throttled_total",
			Help: "Password sign-ins refused by the brute-force throttle, by the bucket that was empty (account, address).",
		}, []string{"reason"}),
		jwks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rotor_jwks_responses_total",
			Help: "JWKS responses by status code (200, 304, 503).",
		}, []string{"code"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rotor_store_errors_total",
			Help: "Store failures that reached an answer as a 5xx, by store operation.",
		}, []string{"op"}),
	}
	if reg != nil {
		reg.MustRegister(m.collectors()...)
	}
	return m
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.httpDuration, m.tokensIssued, m.tokenErrors, m.refreshRotations, m.refreshReuse,
		m.familiesRevoked, m.introspections, m.revocations, m.hashInFlight, m.hashWait, m.hashRejected,
		m.logins, m.loginsThrottled, m.jwks, m.storeErrors}
}

// Describe sends the descriptors of every metric (for tools that check
// names, such as the alert rules' tests).
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// The recording methods below are no-ops on a nil *Metrics.

func (m *Metrics) hashGranted(start time.Time) {
	if m == nil {
		return
	}
	m.hashWait.Observe(time.Since(start).Seconds())
	m.hashInFlight.Inc()
}

func (m *Metrics) hashReleased() {
	if m != nil {
		m.hashInFlight.Dec()
	}
}

// hashRefused records a check that got no slot: saturated when the wait
// ran out (a rejection), not when the request ended first.
func (m *Metrics) hashRefused(start time.Time, saturated bool) {
	if m == nil {
		return
	}
	m.hashWait.Observe(time.Since(start).Seconds())
	if saturated {
		m.hashRejected.Inc()
	}
}

func (m *Metrics) tokenIssued(grant string, alg keys.Alg) {
	if m != nil {
		m.tokensIssued.WithLabelValues(grant, string(alg)).Inc()
	}
}

func (m *Metrics) tokenError(code string) {
	if m != nil {
		m.tokenErrors.WithLabelValues(code).Inc()
	}
}

func (m *Metrics) refreshRotated() {
	if m != nil {
		m.refreshRotations.Inc()
	}
}

func (m *Metrics) refreshReused() {
	if m != nil {
		m.refreshReuse.Inc()
		m.familiesRevoked.WithLabelValues("reuse").Inc()
	}
}

func (m *Metrics) familiesLimited(n int) {
	if m != nil {
		m.familiesRevoked.WithLabelValues("family_limit").Add(float64(n))
	}
}

func (m *Metrics) revoked(family bool) {
	if m == nil {
		return
	}
	if family {
		m.familiesRevoked.WithLabelValues("client").Inc()
	}
	m.revocations.WithLabelValues(strconv.FormatBool(family)).Inc()
}

func (m *Metrics) introspected(active bool) {
	if m != nil {
		m.introspections.WithLabelValues(strconv.FormatBool(active)).Inc()
	}
}

func (m *Metrics) login(outcome, throttleReason string) {
	if m == nil {
		return
	}
	m.logins.WithLabelValues(outcome).Inc()
	if throttleReason != "" {
		m.loginsThrottled.WithLabelValues(throttleReason).Inc()
	}
}

func (m *Metrics) jwksServed(code int) {
	if m != nil {
		m.jwks.WithLabelValues(strconv.Itoa(code)).Inc()
	}
}

func (m *Metrics) storeFailed(op string) {
	if m != nil {
		m.storeErrors.WithLabelValues(op).Inc()
	}
}

// statusClasses are the status_class label values, by status / 100.
var statusClasses = [...]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

func statusClass(code int) string {
	if c := code / 100; c >= 1 && c <= 5 {
		return statusClasses[c]
	}
	return statusClasses[0]
}

func (m *Metrics) request(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	if route == "" {
		route = "unmatched" // 404s and 405s: their paths are the client's, unbounded
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		method = "other"
	}
	m.httpDuration.WithLabelValues(route, method, statusClass(status)).Observe(d.Seconds())
}
