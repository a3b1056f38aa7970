package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/internal/proctest"
)

// testEnv is a Rotor deployment for tests: one database and the settings
// every process of it shares, as environment variables.
type testEnv struct {
	t   *testing.T
	env map[string]string
}

// Fast timing for tests: a key is published 3s before it signs, which the
// propagation invariant allows with a 1s JWKS max-age and a 1s poll.
var fastTiming = map[string]string{
	"ROTOR_JWKS_MAX_AGE":          "1s",
	"ROTOR_KEY_POLL_INTERVAL":     "1s",
	"ROTOR_KEY_PROPAGATION_DELAY": "3s",
	"ROTOR_ARGON2_MEMORY":         "1024",
	"ROTOR_ARGON2_ITERATIONS":     "1",
}

func newKEK() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "test:" + base64.StdEncoding.EncodeToString(b[:])
}

func newTestEnv(t *testing.T) *testEnv {
	e := &testEnv{t: t, env: map[string]string{
		"ROTOR_DATABASE":            pgtest.NewDatabase(t),
		"ROTOR_KEY_ENCRYPTION_KEYS": newKEK(),
		"ROTOR_LISTEN":              "127.0.0.1:0",
	}}
	for k, v := range fastTiming {
		e.env[k] = v
	}
	return e
}

func (e *testEnv) getenv(k string) string { return e.env[k] }

func (e *testEnv) environ() []string {
	var out []string
	for k, v := range e.env {
		out = append(out, k+"="+v)
	}
	return out
}

// cli runs a rotor command in-process, the way main does, with stdin.
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

// replica is a running `rotor serve` process.
type replica struct {
	*proctest.Proc
	url string
}

var listeningRE = regexp.MustCompile(`msg="rotor listening" addr=(\S+)`)

// serve starts the real binary and waits until it is ready.
func (e *testEnv) serve(name string, args ...string) *replica {
	e.t.Helper()
	bin := proctest.Build(e.t, "./cmd/rotor")
	p := proctest.Start(e.t, name, bin, append([]string{"serve"}, args...), e.environ()...)
	addr := p.WaitOutput(e.t, listeningRE, 60*time.Second)
	r := &replica{Proc: p, url: "http://" + addr}
	proctest.WaitReady(e.t, r.url+"/readyz", 30*time.Second)
	return r
}

// jwksKids returns the kids a replica publishes, sorted.
func (r *replica) jwksKids(t *testing.T) []string {
	t.Helper()
	resp, err := http.Get(r.url + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range doc.Keys {
		kids = append(kids, k.Kid)
	}
	sort.Strings(kids)
	return kids
}

// token runs the client credentials grant against a replica and returns the
// access token's kid.
func (r *replica) token(t *testing.T, id, secret string) (token, kid string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, r.url+"/oauth2/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token from %s: %d %s", r.Name, resp.StatusCode, body)
	}
	var v struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	return v.AccessToken, kidOf(t, v.AccessToken)
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	h, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var hdr struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &hdr); err != nil {
		t.Fatal(err)
	}
	return hdr.Kid
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
