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

// testEnv is a deployment on a fresh database. The tests run its admin
// commands in-process (runInProcess calls run, the way main does, so they
// see run's errors, not only exit codes) and its replicas as real processes
// (deploy.Serve).
type testEnv struct {
	t      *testing.T
	deploy *rotortest.Deployment // the database and the ROTOR_* settings its processes share
}

func newTestEnv(t *testing.T) *testEnv {
	return &testEnv{t: t, deploy: rotortest.New(t, pgtest.NewDatabase(t))}
}

func (e *testEnv) getenv(k string) string { return e.deploy.Env[k] }

// runInProcess runs a rotor command through run with the deployment's
// settings as its environment and stdin as its input.
func (e *testEnv) runInProcess(stdin string, args ...string) (stdout, stderr string, err error) {
	e.t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = run(ctx, args, e.getenv, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

// mustRunInProcess is runInProcess for a command that must succeed; it
// returns the command's stdout.
func (e *testEnv) mustRunInProcess(stdin string, args ...string) string {
	e.t.Helper()
	out, errOut, err := e.runInProcess(stdin, args...)
	if err != nil {
		e.t.Fatalf("rotor %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// addClient creates a client with `rotor clients add` (through
// mustRunInProcess) and returns its secret.
func (e *testEnv) addClient(id string, args ...string) string {
	e.t.Helper()
	out := e.mustRunInProcess("", append([]string{"clients", "add", id, "--json"}, args...)...)
	return rotortest.ClientSecret(e.t, id, out)
}

// keyInfo is one entry of `rotor keys list --json`.
type keyInfo struct {
	KID       string    `json:"kid"`
	Alg       string    `json:"alg"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
}

// keys is `rotor keys list --json` (through mustRunInProcess).
func (e *testEnv) keys() []keyInfo {
	e.t.Helper()
	var ks []keyInfo
	if err := json.Unmarshal([]byte(e.mustRunInProcess("", "keys", "list", "--json")), &ks); err != nil {
		e.t.Fatal(err)
	}
	return ks
}

// keyIn returns the key of lane alg in state; the test fails if there is none.
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
