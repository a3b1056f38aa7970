package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"text/tabwriter"
	"time"
)

// The metrics overhead comparison (--metrics-overhead): a second rotor serve
// on the same database with metrics off and the audit log thrown away
// ("bare"), beside the deployment's own with metrics on and the audit log
// written to a file ("observed"). Each scenario runs on both, interleaved
// (bare, observed, bare, observed), so that drift in the machine's load
// falls on both alike; the report compares server CPU per request.

// overheadScenarios are the hot paths the comparison covers.
var overheadScenarios = []string{"client_credentials/EdDSA", "client_credentials/RS256", "refresh_token/EdDSA", "jwks"}

// overheadRounds is how many times each scenario runs on each server.
const overheadRounds = 2

type overheadResult struct {
	Name             string        `json:"name"`
	BareCPU          time.Duration `json:"bare_cpu_per_request_ns"`
	ObservedCPU      time.Duration `json:"observed_cpu_per_request_ns"`
	BarePerSecond    float64       `json:"bare_per_second"`
	ObservedPerSec   float64       `json:"observed_per_second"`
	CPUOverheadPct   float64       `json:"cpu_overhead_percent"`
	ThroughputChange float64       `json:"throughput_change_percent"`
}

// startBare starts the rotor without metrics on the deployment's database.
func (d *deployment) startBare(ctx context.Context) (*process, error) {
	return startProcess(ctx, "rotor-bare", d.rotorBin,
		[]string{"serve", "--listen", "127.0.0.1:0", "--metrics-listen", "", "--audit-log", os.DevNull},
		d.env, regexp.MustCompile(`msg="rotor listening" addr=(\S+)`))
}

// auditFile is where the observed rotor appends its audit events.
func auditFile() (path string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "rotor-load-audit-")
	if err != nil {
		return "", nil, err
	}
	return filepath.Join(dir, "audit.log"), func() { os.RemoveAll(dir) }, nil
}

// measureOverhead runs the comparison and prints it.
func measureOverhead(ctx context.Context, d *deployment, client *http.Client, o *options, w, log io.Writer) ([]overheadResult, error) {
	bare, err := d.startBare(ctx)
	if err != nil {
		return nil, err
	}
	defer bare.stop()
	observed := d.rotor
	pick := func(srv *process) map[string]scenario {
		d.rotor = srv
		defer func() { d.rotor = observed }()
		out := map[string]scenario{}
		for _, sc := range scenarios(d, client, o.saturation) {
			out[sc.name] = sc
		}
		return out
	}
	bareSc, obsSc := pick(bare), pick(observed)
	var results []overheadResult
	for _, name := range overheadScenarios {
		var sums [2]struct {
			cpu  time.Duration
			reqs int
			secs float64
		}
		for round := range overheadRounds {
			for i, sc := range []scenario{bareSc[name], obsSc[name]} {
				fmt.Fprintf(log, "overhead: %s on %s (round %d)…\n", name, sc.server.name, round+1)
				res, err := runScenario(ctx, sc, o)
				if err != nil {
					return nil, fmt.Errorf("%s on %s: %w", name, sc.server.name, err)
				}
				if res.Errors > 0 {
					return nil, fmt.Errorf("%s on %s: %d non-200 answers %v", name, sc.server.name, res.Errors, res.ByStatus)
				}
				sums[i].cpu += res.CPUPerRequest * time.Duration(res.Requests)
				sums[i].reqs += res.Requests
				sums[i].secs += res.Elapsed.Seconds()
			}
		}
		r := overheadResult{Name: name}
		if sums[0].reqs > 0 && sums[1].reqs > 0 {
			r.BareCPU, r.ObservedCPU = sums[0].cpu/time.Duration(sums[0].reqs), sums[1].cpu/time.Duration(sums[1].reqs)
			r.BarePerSecond, r.ObservedPerSec = float64(sums[0].reqs)/sums[0].secs, float64(sums[1].reqs)/sums[1].secs
			r.CPUOverheadPct = 100 * (float64(r.ObservedCPU) - float64(r.BareCPU)) / float64(r.BareCPU)
			r.ThroughputChange = 100 * (r.ObservedPerSec - r.BarePerSecond) / r.BarePerSecond
		}
		results = append(results, r)
	}
	if !o.jsonOut {
		fmt.Fprintf(w, "\nmetrics overhead: rotor with /metrics and the audit log (observed) against one without (bare), same database, interleaved, %d rounds each\n", overheadRounds)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "scenario\tbare CPU/req\tobserved CPU/req\tCPU overhead\tbare req/s\tobserved req/s\tthroughput\t")
		for _, r := range results {
			fmt.Fprintf(tw, "%s\t%v\t%v\t%+.1f%%\t%.0f\t%.0f\t%+.1f%%\t\n", r.Name, round(r.BareCPU), round(r.ObservedCPU),
				r.CPUOverheadPct, r.BarePerSecond, r.ObservedPerSec, r.ThroughputChange)
		}
		tw.Flush()
	}
	return results, nil
}
