package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/internal/proctest"
)

func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	proctest.Cleanup()
	os.Exit(code)
}

// TestLoadRuns runs a tiny load end to end, so the command keeps working.
func TestLoadRuns(t *testing.T) {
	db := pgtest.NewDatabase(t)
	rotor, api := proctest.Build(t, "./cmd/rotor"), proctest.Build(t, "./cmd/example-api")
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := run(ctx, []string{"--rotor", rotor, "--example-api", api, "--database", db, "--duration", "300ms", "--requests", "40",
		"--concurrency", "2", "--saturation-conns", "3", "--scenarios", "client_credentials/EdDSA,refresh_token/EdDSA,jwks,example-api,saturation/client_credentials/EdDSA", "--json"},
		func(string) string { return "" }, nil, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	var report struct {
		Results []result `json:"results"`
	}
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if len(report.Results) != 5 {
		t.Fatalf("%d results, want 5: %s", len(report.Results), out.String())
	}
	for _, r := range report.Results {
		if r.Requests == 0 || r.Requests > 40 || r.Errors != 0 {
			t.Errorf("%s: %d requests, %d errors (%v)", r.Name, r.Requests, r.Errors, r.ByStatus)
		}
		wantConns := 2
		if strings.HasPrefix(r.Name, "saturation/") {
			wantConns = 3
		}
		if r.Conns != wantConns {
			t.Errorf("%s: %d connections, want %d", r.Name, r.Conns, wantConns)
		}
	}
}

func TestLoadStaysOnLoopback(t *testing.T) {
	dial := loopbackOnly(func(context.Context, string, string) (net.Conn, error) { return nil, nil })
	for addr, ok := range map[string]bool{"127.0.0.1:80": true, "[::1]:80": true, "192.0.2.1:80": false, "example.com:80": false} {
		_, err := dial(context.Background(), "tcp", addr)
		if (err == nil) != ok {
			t.Errorf("dial %s: err = %v", addr, err)
		}
	}
}

func TestLoadBounds(t *testing.T) {
	for _, args := range [][]string{{"--duration", "10m"}, {"--requests", "0"}, {"--concurrency", "1000"}, {"--saturation-conns", "0"}} {
		var errOut bytes.Buffer
		err := run(context.Background(), args, func(string) string { return "" }, nil, &errOut, &errOut)
		if err == nil || !strings.Contains(err.Error(), "--duration must be") {
			t.Errorf("%v: err = %v", args, err)
		}
	}
}
