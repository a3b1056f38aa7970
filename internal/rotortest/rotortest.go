package rotortest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/proctest"
)

// FastTiming lets keys rotate within seconds: a key is published 3s before
// it signs, which the propagation invariant allows with a 1s JWKS max-age and
// a 1s poll. Logins hash with cheap argon2id parameters.
var FastTiming = map[string]string{
	"ROTOR_JWKS_MAX_AGE":          "1s",
	"ROTOR_KEY_POLL_INTERVAL":     "1s",
	"ROTOR_KEY_PROPAGATION_DELAY": "3s",
	"ROTOR_ARGON2_MEMORY":         "1024",
	"ROTOR_ARGON2_ITERATIONS":     "1",
}

// NewKEK returns a fresh key-encryption key entry.
func NewKEK() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "test:" + base64.StdEncoding.EncodeToString(b[:])
}

// Deployment is one Rotor installation: a database and the settings all its
// processes share, as ROTOR_* environment variables.
type Deployment struct {
	T   testing.TB
	Env map[string]string
}

// New returns a deployment on the Postgres database at dbURL with
// FastTiming.
func New(t testing.TB, dbURL string) *Deployment {
	d := &Deployment{T: t, Env: map[string]string{
		"ROTOR_DATABASE":            dbURL,
		"ROTOR_KEY_ENCRYPTION_KEYS": NewKEK(),
		"ROTOR_LISTEN":              "127.0.0.1:0",
		"ROTOR_METRICS_LISTEN":      "127.0.0.1:0",
		"ROTOR_AUDIT_LOG":           auditLogIn(t),
	}}
	for k, v := range FastTiming {
		d.Env[k] = v
	}
	return d
}

// Environ is Env as a process environment.
func (d *Deployment) Environ() []string {
	out := make([]string, 0, len(d.Env))
	for k, v := range d.Env {
		out = append(out, k+"="+v)
	}
	return out
}

// Bin is the path of the rotor binary, built once per test process.
func (d *Deployment) Bin() string { return proctest.Build(d.T, "./cmd/rotor") }

// RunBinary runs a rotor admin command as a process of the built binary,
// with the deployment's settings in its environment and stdin as its input,
// and returns its stdout.
func (d *Deployment) RunBinary(stdin string, args ...string) (string, error) {
	d.T.Helper()
	cmd := exec.Command(d.Bin(), args...)
	cmd.Env = append(d.Environ(), "PATH=/usr/bin:/bin")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), &CLIError{Err: err, Stderr: errOut.String()}
	}
	return out.String(), nil
}

// CLIError is an admin command that RunBinary ran and that failed.
type CLIError struct {
	Err    error
	Stderr string
}

func (e *CLIError) Error() string { return e.Err.Error() + ": " + strings.TrimSpace(e.Stderr) }

// MustRunBinary is RunBinary for a command that must succeed.
func (d *Deployment) MustRunBinary(stdin string, args ...string) string {
	d.T.Helper()
	out, err := d.RunBinary(stdin, args...)
	if err != nil {
		d.T.Fatalf("rotor %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// AddClient creates a client with `rotor clients add` (through
// MustRunBinary) and returns its secret.
func (d *Deployment) AddClient(id string, args ...string) string {
	d.T.Helper()
	out := d.MustRunBinary("", append([]string{"clients", "add", id, "--json"}, args...)...)
	return ClientSecret(d.T, id, out)
}

// ClientSecret returns the secret in the output of `rotor clients add ID
// --json` (empty for a public client); the test fails if the output is not
// that of client id.
func ClientSecret(t testing.TB, id, out string) string {
	t.Helper()
	var v struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.ClientID != id {
		t.Fatalf("clients add --json printed %q", out)
	}
	return v.ClientSecret
}

// Replica is a running `rotor serve`.
type Replica struct {
	*proctest.Proc
	URL  string
	Args []string
}

var listeningRE = regexp.MustCompile(`msg="rotor listening" addr=(\S+)`)

// Serve starts a replica and waits until it is ready.
func (d *Deployment) Serve(name string, args ...string) *Replica {
	d.T.Helper()
	p := proctest.Start(d.T, name, d.Bin(), append([]string{"serve"}, args...), d.Environ()...)
	addr := p.WaitOutput(d.T, listeningRE, 60*time.Second)
	r := &Replica{Proc: p, URL: "http://" + addr, Args: args}
	proctest.WaitReady(d.T, r.URL+"/readyz", 30*time.Second)
	return r
}

// JWKSKids returns the kids the replica publishes, sorted.
func (r *Replica) JWKSKids(t testing.TB) []string {
	t.Helper()
	resp, err := http.Get(r.URL + "/.well-known/jwks.json")
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

// TokenResponse is the token endpoint's answer.
type TokenResponse struct {
	Status       int
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	Error        string `json:"error"`
	RetryAfter   string
}

// Token posts a grant to base's token endpoint with Basic client
// authentication.
func Token(client *http.Client, base, id, secret string, form url.Values) (TokenResponse, error) {
	req, err := http.NewRequest(http.MethodPost, base+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return TokenResponse{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := client.Do(req)
	if err != nil {
		return TokenResponse{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return TokenResponse{}, err
	}
	tr := TokenResponse{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
	_ = json.Unmarshal(body, &tr)
	return tr, nil
}

// ClientCredentials gets an access token that must be issued.
func (r *Replica) ClientCredentials(t testing.TB, id, secret string) string {
	t.Helper()
	tr, err := Token(http.DefaultClient, r.URL, id, secret, url.Values{"grant_type": {"client_credentials"}})
	if err != nil || tr.Status != http.StatusOK {
		t.Fatalf("token from %s: %v %+v", r.Name, err, tr)
	}
	return tr.AccessToken
}

// KID returns the kid in a token's header.
func KID(t testing.TB, token string) string {
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
