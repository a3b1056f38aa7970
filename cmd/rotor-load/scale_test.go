package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/proctest"
	"github.com/rotor-idp/rotor/internal/seed"
	"github.com/rotor-idp/rotor/sql/sqlite"
)

// TestScaleRuns runs a tiny scale profile end to end: an empty and a seeded
// size, each scenario measured with the database's CPU, and the purge of the
// expired families under refresh load.
func TestScaleRuns(t *testing.T) {
	rotor, api := proctest.Build(t, "./cmd/rotor"), proctest.Build(t, "./cmd/example-api")
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// Requests are capped at 40, so only password logins (argon2id, slow
	// under the race detector) use the whole duration.
	err := run(ctx, []string{"--rotor", rotor, "--example-api", api, "--duration", "3s", "--requests", "40", "--concurrency", "2",
		"--scale", "--scale-tokens", "0,3000", "--scale-users", "50", "--scale-depth", "5", "--scale-expired", "0.5",
		"--scale-shared-buffers", "32MB", "--json"},
		func(string) string { return "" }, nil, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	var report struct {
		Scale []scaleRun `json:"scale"`
	}
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if len(report.Scale) != 2 {
		t.Fatalf("%d sizes, want 2: %s", len(report.Scale), out.String())
	}
	for i, run := range report.Scale {
		if len(run.Results) != len(scaleScenarios) || run.DBBytes == 0 {
			t.Errorf("size %d: %d results, database %d bytes", i, len(run.Results), run.DBBytes)
		}
		for _, r := range run.Results {
			if r.Requests == 0 || r.Errors != 0 {
				t.Errorf("size %d, %s: %d requests, %d errors (%v)", i, r.Name, r.Requests, r.Errors, r.ByStatus)
			}
		}
	}
	seeded := report.Scale[1]
	if seeded.Seeded.Users != 50 || seeded.Seeded.Families != 600 || seeded.Seeded.Tokens < 600 || seeded.BytesPerUser == 0 {
		t.Errorf("seeded %+v, %d bytes per user", seeded.Seeded, seeded.BytesPerUser)
	}
	// The purge stops with the refresh load it runs under, which may end
	// before its first batch does: that it ran alongside is what is checked.
	if p := seeded.Purge; p == nil || p.Before.Requests == 0 || p.During.Requests == 0 {
		t.Errorf("purge under load: %+v", p)
	}
}

func TestScaleBounds(t *testing.T) {
	for _, args := range [][]string{
		{"--scale-tokens", "100000000"}, {"--scale-tokens", "1,2,3,4,5,6"}, {"--scale-tokens", "x"},
		{"--scale-users", "0"}, {"--scale-users", "3000000"}, {"--scale-expired", "1"},
	} {
		var errOut bytes.Buffer
		err := run(context.Background(), append([]string{"--scale"}, args...), func(string) string { return "" }, nil, &errOut, &errOut)
		if err == nil || !strings.Contains(err.Error(), "--scale-") {
			t.Errorf("%v: err = %v", args, err)
		}
	}
}

// TestSeedCommand seeds an embedded store and reads a seeded user back.
func TestSeedCommand(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	err := run(t.Context(), []string{"seed", "--data-dir", dir, "--users", "20", "--clients", "2", "--families", "30", "--depth", "3"},
		func(string) string { return "" }, nil, &out, &errOut)
	if err != nil || !strings.Contains(out.String(), "20 users, 2 clients, 30 families") {
		t.Fatalf("seed: %v, %q %s", err, out.String(), errOut.String())
	}
	s, err := sqlite.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if u, err := s.UserByName(t.Context(), seed.UserName(19)); err != nil || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Errorf("seeded user: %+v, %v", u, err)
	}
	for _, args := range [][]string{{"seed"}, {"seed", "--data-dir", dir, "--database", "postgres://x"}, {"seed", "--data-dir", dir, "--families", "20000000"}} {
		if err := run(t.Context(), args, func(string) string { return "" }, nil, &out, &errOut); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// Pooled runs give percentiles over all their latencies, not an average of
// each run's percentiles, and CPU weighted by requests.
func TestPooled(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	a := result{Name: "r", Requests: 99, Elapsed: time.Second, CPUPerRequest: 10, ByStatus: map[int]int{200: 99}, latencies: ms(make([]int, 99)...)}
	b := result{Name: "r", Requests: 1, Elapsed: time.Second, CPUPerRequest: 110, ByStatus: map[int]int{200: 1}, latencies: ms(50)}
	got := pooled([]result{a, b})
	if got.Requests != 100 || got.ByStatus[200] != 100 || got.Max != 50*time.Millisecond || got.P50 != 0 || got.CPUPerRequest != 11 || got.PerSecond != 50 {
		t.Errorf("pooled: %+v", got)
	}
}
