package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/internal/proctest"
)

// TestSigninScenarios runs the browser sign-in scenarios end to end, tiny,
// so that they keep working: every flow ends with tokens.
func TestSigninScenarios(t *testing.T) {
	db := pgtest.NewDatabase(t)
	rotor, api := proctest.Build(t, "./cmd/rotor"), proctest.Build(t, "./cmd/example-api")
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := run(ctx, []string{"--rotor", rotor, "--example-api", api, "--database", db, "--duration", "500ms", "--requests", "20",
		"--concurrency", "2", "--scenarios", "signin", "--json"}, func(string) string { return "" }, nil, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	var report struct {
		Results []result `json:"results"`
	}
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if len(report.Results) != 2 {
		t.Fatalf("%d results, want 2: %s", len(report.Results), out.String())
	}
	for _, r := range report.Results {
		if r.Requests == 0 || r.Errors != 0 || r.CPUPerRequest <= 0 {
			t.Errorf("%s: %d flows, %d errors (%v), %v CPU each", r.Name, r.Requests, r.Errors, r.ByStatus, r.CPUPerRequest)
		}
	}
}
