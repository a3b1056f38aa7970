package metrics

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rotor-idp/rotor/idp"
)

// TestAlertRules runs promtool (Debian's prometheus package) over the alert
// rules in deploy/prometheus: the rules must parse, and their unit tests
// (rotor-rules.test.yml) must pass. The metric names the rules use are held
// to the ones Rotor exports by TestRuleMetricsExist.
func TestAlertRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool not found (apt-get install prometheus)")
		}
		t.Skip("promtool not found (apt-get install prometheus)")
	}
	dir := filepath.Join("..", "..", "deploy", "prometheus")
	for _, args := range [][]string{
		{"check", "rules", "rotor-rules.yml"},
		{"test", "rules", "rotor-rules.test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}

// TestRuleMetricsExist holds every rotor_* metric the alert rules and the
// dashboard name to one Rotor exports, so that renaming a metric cannot
// silence an alert or blank a panel.
func TestRuleMetricsExist(t *testing.T) {
	var text []byte
	for _, f := range []string{"rotor-rules.yml", "grafana-dashboard.json"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "prometheus", f))
		if err != nil {
			t.Fatal(err)
		}
		text = append(text, b...)
	}
	descs := make(chan *prometheus.Desc, 1000)
	idp.NewMetrics(nil).Describe(descs)
	NewKeyRing().Describe(descs)
	NewPoolCollector(nil).Describe(descs)
	NewBusyRetryCollector(nil).Describe(descs)
	close(descs)
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	known := map[string]bool{}
	for d := range descs {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			known[m[1]] = true
		}
	}
	for _, name := range regexp.MustCompile(`\brotor_[a-z0-9_]+`).FindAllString(string(text), -1) {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_count"), "_sum"), "_bucket")
		if !known[name] && !known[base] {
			t.Errorf("deploy/prometheus uses %s, which Rotor does not export", name)
		}
	}
}
