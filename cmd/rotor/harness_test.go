package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/internal/rotortest"
)

// testEnv is a deployment whose admin commands run in-process through run,
// the way main calls it, while replicas run as real processes.
type testEnv struct {
	*rotortest.Deployment
	t *testing.T
}

func newTestEnv(t *testing.T) *testEnv {
	return &testEnv{Deployment: rotortest.New(t, pgtest.NewDatabase(t)), t: t}
}

func (e *testEnv) getenv(k string) string { return e.Env[k] }

// cli runs a rotor command in-process with stdin.
func (e *testEnv) cli(stdin string, args ...string) (stdout, stderr string, err error) {
	e.t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = run(ctx, args, e.getenv, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

// mustCLI runs a command that must succeed.
func (e *testEnv) mustCLI(stdin string, args ...string) string {
	e.t.Helper()
	out, errOut, err := e.cli(stdin, args...)
	if err != nil {
		e.t.Fatalf("rotor %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// addClient creates a client through the CLI and returns its secret.
func (e *testEnv) addClient(id string, args ...string) string {
	e.t.Helper()
	out := e.mustCLI("", append([]string{"clients", "add", id, "--json"}, args...)...)
	var v struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.ClientID != id {
		e.t.Fatalf("clients add --json printed %q", out)
	}
	return v.ClientSecret
}

// keyInfo is one entry of `rotor keys list --json`.
type keyInfo struct {
	KID       string    `json:"kid"`
	Alg       string    `json:"alg"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
}

func (e *testEnv) keys() []keyInfo {
	e.t.Helper()
	var ks []keyInfo
	if err := json.Unmarshal([]byte(e.mustCLI("", "keys", "list", "--json")), &ks); err != nil {
		e.t.Fatal(err)
	}
	return ks
}

func (e *testEnv) keyIn(alg, state string) keyInfo {
	e.t.Helper()
	for _, k := range e.keys() {
		if k.Alg == alg && k.State == state {
			return k
		}
	}
	e.t.Fatalf("no %s key in state %s", alg, state)
	return keyInfo{}
}
