package rotortest

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var metricsListeningRE = regexp.MustCompile(`msg="metrics listening" addr=(\S+)`)

// MetricsURL is the replica's /metrics (its own listener), read from the
// line it logged at start.
func (r *Replica) MetricsURL(t testing.TB) string {
	t.Helper()
	m := metricsListeningRE.FindStringSubmatch(r.Output())
	if m == nil {
		t.Fatalf("%s logged no metrics listener", r.Name)
	}
	return "http://" + m[1] + "/metrics"
}

// Metrics scrapes the replica's /metrics.
func (r *Replica) Metrics(t testing.TB) Metrics {
	t.Helper()
	return Scrape(t, r.MetricsURL(t))
}

// Metrics is one scrape, parsed with expfmt.
type Metrics map[string]*dto.MetricFamily

// Scrape fetches and parses a Prometheus text exposition.
func Scrape(t testing.TB, url string) Metrics {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// Sum adds the values (counters, gauges, or a histogram's count) of the
// series of name whose labels include the given name/value pairs; 0 when
// none match.
func (m Metrics) Sum(name string, labels ...string) float64 {
	f := m[name]
	if f == nil {
		return 0
	}
	var sum float64
next:
	for _, s := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range s.GetLabel() {
				found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
			}
			if !found {
				continue next
			}
		}
		switch {
		case s.Counter != nil:
			sum += s.GetCounter().GetValue()
		case s.Gauge != nil:
			sum += s.GetGauge().GetValue()
		case s.Histogram != nil:
			sum += float64(s.GetHistogram().GetSampleCount())
		case s.Untyped != nil:
			sum += s.GetUntyped().GetValue()
		}
	}
	return sum
}

// Has reports whether the scrape has a family called name.
func (m Metrics) Has(name string) bool { return m[name] != nil }

// AuditLog is where the deployment's processes append audit events: every
// replica and admin command of the deployment shares it.
func (d *Deployment) AuditLog() string { return d.Env["ROTOR_AUDIT_LOG"] }

// AuditEvent is one decoded audit line.
type AuditEvent map[string]any

// Str is the string field k ("" if absent).
func (e AuditEvent) Str(k string) string {
	s, _ := e[k].(string)
	return s
}

// AuditEvents reads the audit log: every line must be a JSON object marked
// "log":"audit".
func (d *Deployment) AuditEvents(t testing.TB) []AuditEvent {
	t.Helper()
	f, err := os.Open(d.AuditLog())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []AuditEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var e AuditEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.Str("log") != "audit" {
			t.Fatalf("audit log line %q is not an audit event (%v)", line, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// AwaitAudit waits until cond holds for the audit log: a replica writes
// its events from a goroutine of its own, moments after the act.
func (d *Deployment) AwaitAudit(t testing.TB, what string, cond func([]AuditEvent) bool) []AuditEvent {
	t.Helper()
	var events []AuditEvent
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if events = d.AuditEvents(t); cond(events) {
			return events
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for the audit log to show %s", what)
		}
		<-tick.C
	}
}

func auditLogIn(t testing.TB) string {
	return filepath.Join(t.TempDir(), "audit.log")
}
