package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// scaleMain runs the scale profile and reports it.
func scaleMain(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	runs, err := runScale(ctx, o, o.httpClient(), stderr)
	if err != nil {
		return err
	}
	if o.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"scale": runs})
	}
	scaleReport(stdout, runs, o)
	return nil
}

// perRequest is what the scale targets compare: server and database CPU per
// request. A password login's server CPU is the argon2id hash (tens of
// milliseconds, the same at every size, and too noisy to subtract) plus what
// client_credentials does, measured on its own; so for password only the
// database's CPU counts.
func perRequest(r result) time.Duration {
	if strings.HasPrefix(r.Name, "password") {
		return r.DBCPUPerRequest
	}
	return r.CPUPerRequest + r.DBCPUPerRequest
}

func scaleReport(w io.Writer, runs []scaleRun, o *options) {
	fmt.Fprintf(w, "rotor-load -scale: Postgres (shared_buffers %s), %d clients, up to %v or %d requests per scenario\n",
		o.scale.sharedBuffers, o.concurrency, o.duration, o.maxRequests)
	fmt.Fprintf(w, "× first size: (server + database CPU) per request against the first size; for password the database's alone\n\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stored tokens\tusers\tfamilies\tseed time\tDB size\tDB bytes/user\tscenario\treq/s\tp50\tp99\tserver CPU/req\tDB CPU/req\t× first size\t")
	base := map[string]time.Duration{}
	for i, run := range runs {
		for _, r := range run.Results {
			cost := perRequest(r)
			if i == 0 {
				base[r.Name] = cost
			}
			ratio := "-"
			if b := base[r.Name]; b > 0 {
				ratio = fmt.Sprintf("%.2f", float64(cost)/float64(b))
			}
			perUser := "-"
			if run.BytesPerUser > 0 {
				perUser = fmt.Sprint(run.BytesPerUser)
			}
			fmt.Fprintf(tw, "%d\t%d\t%d\t%v\t%.1f MB\t%s\t%s\t%.0f\t%v\t%v\t%v\t%v\t%s\t\n",
				run.Tokens, run.Seeded.Users, run.Seeded.Families, run.Seeded.Elapsed.Round(time.Second),
				float64(run.DBBytes)/1e6, perUser, r.Name, r.PerSecond, round(r.P50), round(r.P99),
				round(r.CPUPerRequest), round(r.DBCPUPerRequest), ratio)
		}
	}
	tw.Flush()
	for _, run := range runs {
		if run.Seeded.Tokens > 0 {
			fmt.Fprintf(w, "%d stored tokens: refresh_tokens with its indexes %.1f MB, %d bytes per token\n",
				run.Tokens, float64(run.TokenBytes)/1e6, run.TokenBytes/int64(run.Seeded.Tokens))
		}
	}
	fmt.Fprintln(w, "\ntargets:")
	last := runs[len(runs)-1]
	for _, r := range last.Results {
		if b := base[r.Name]; b > 0 && len(runs) > 1 {
			ratio := float64(perRequest(r)) / float64(b)
			mark(w, fmt.Sprintf("%s at %d tokens: CPU/request ≤ 1.3× the first size", r.Name, last.Tokens), fmt.Sprintf("%.2f×", ratio), ratio <= 1.3)
		}
	}
	if p := last.Purge; p != nil {
		fmt.Fprintf(w, "  purge under refresh load: %d expired families in %v; refresh p99 %v alone, %v while purging (%d windows each)\n",
			p.Families, p.Elapsed.Round(time.Millisecond), round(p.Before.P99), round(p.During.P99), purgeRounds)
		mark(w, "refresh p99 during the purge ≤ 1.2× before", fmt.Sprintf("%+.0f%%", 100*p.P99Change), p.P99Change <= 0.2)
	}
	for _, run := range runs {
		for _, r := range run.Results {
			if r.Errors > 0 {
				fmt.Fprintf(w, "  %d tokens, %s: %d non-200 answers %v\n", run.Tokens, r.Name, r.Errors, r.ByStatus)
			}
		}
	}
}

func mark(w io.Writer, what, got string, ok bool) {
	m := "met"
	if !ok {
		m = "MISSED"
	}
	fmt.Fprintf(w, "  %-66s %-8s %s\n", what, got, m)
}
