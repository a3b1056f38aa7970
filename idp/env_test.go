package idp_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/keys"
	"github.com/rotor-idp/rotor/sql/postgres"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// fastArgon2 keeps the many logins of these tests quick; the tests about
// hashing cost set their own.
var fastArgon2 = argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// clock is real time plus an offset tests can push forward.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// env is a Rotor server on loopback over a fresh Postgres database.
type env struct {
	t       testing.TB
	url     string
	handler http.Handler
	store   *postgres.Store
	dbURL   string // the store's database, for checks the store's API cannot make
	keys    *keys.Manager
	hooks   *idp.TestHooks
	clock   *clock
	cfg     idp.Config
}

func newKEKs(t testing.TB) *keys.KEKSet {
	t.Helper()
	var b [32]byte
	_, _ = rand.Read(b[:])
	k, err := keys.ParseKEKs("test:" + base64.StdEncoding.EncodeToString(b[:]))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newEnv(t testing.TB, configure ...func(*idp.Config)) *env {
	t.Helper()
	return newEnvWithSeam(t, nil, configure...)
}

// newEnvWithSeam is newEnv with seam given the server's dependencies first,
// to put a wrapper between the server and its stores: one that pauses a
// call (to hold a request in flight), never one that answers instead of the
// database.
func newEnvWithSeam(t testing.TB, seam func(*idp.Deps), configure ...func(*idp.Config)) *env {
	t.Helper()
	return newEnvOn(t, pgtest.NewDatabase(t), seam, configure...)
}

// newEnvOn is newEnvWithSeam on the migrated database at dbURL, for tests
// that stop and start their own cluster.
func newEnvOn(t testing.TB, dbURL string, seam func(*idp.Deps), configure ...func(*idp.Config)) *env {
	t.Helper()
	ctx := context.Background()
	st, err := postgres.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	clk := &clock{}
	mgr, err := keys.NewManager(st, keys.Config{
		Algs:         []keys.Alg{keys.RS256, keys.EdDSA},
		Policy:       keys.Policy{RotationPeriod: 0, PropagationDelay: 3 * time.Second, RetireAfter: time.Hour},
		PollInterval: time.Second,
		KEKs:         newKEKs(t),
		Now:          clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	e := &env{t: t, url: "http://" + srv.Listener.Addr().String(), store: st, dbURL: dbURL, keys: mgr, clock: clk}
	e.cfg = idp.Config{
		Issuer: e.url, Argon2: fastArgon2, Now: clk.Now,
		Throttle: idp.ThrottleConfig{AccountBurst: 1000, AddressBurst: 1000},
	}
	for _, f := range configure {
		f(&e.cfg)
	}
	deps := idp.Deps{Users: st, Clients: st, Refresh: st, Sessions: st, Codes: st, Consents: st, Replay: st, Pinger: st, Keys: mgr}
	if seam != nil {
		seam(&deps)
	}
	h, hooks := idp.NewServerForTest(e.cfg, deps)
	e.hooks, e.handler = hooks, h
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return e
}

// client creates a client and returns its secret ("" for public ones).
func (e *env) client(spec idp.ClientSpec) string {
	e.t.Helper()
	if spec.Audiences == nil {
		spec.Audiences = []string{"https://api.example"}
	}
	c, secret, err := idp.NewClient(spec, e.clock.Now().UTC().Truncate(time.Microsecond))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.CreateClient(context.Background(), c); err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// user creates a user and returns it.
func (e *env) user(name, password string) idp.User {
	e.t.Helper()
	p := e.cfg.Argon2
	if p.Memory == 0 {
		p = idp.DefaultArgon2
	}
	u, err := idp.NewUser(name, password, p, e.clock.Now().UTC().Truncate(time.Microsecond))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.CreateUser(context.Background(), u); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	raw    []byte
	json   map[string]any
}

func (r response) str(k string) string {
	s, _ := r.json[k].(string)
	return s
}

// basicAuth returns a request option that sets HTTP Basic client credentials.
func basicAuth(id, secret string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret)) }
}

// post sends a form to path.
func (e *env) post(path string, form url.Values, opts ...func(*http.Request)) response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, o := range opts {
		o(req)
	}
	return e.do(req)
}

func (e *env) get(path string, opts ...func(*http.Request)) response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, o := range opts {
		o(req)
	}
	return e.do(req)
}

func (e *env) do(req *http.Request) response {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.json); err != nil {
			e.t.Fatalf("bad JSON %q: %v", raw, err)
		}
	}
	return r
}

// clientCredentials gets a token with the client credentials grant.
func (e *env) clientCredentials(id, secret string, extra url.Values) response {
	e.t.Helper()
	f := url.Values{"grant_type": {"client_credentials"}}
	for k, v := range extra {
		f[k] = v
	}
	return e.post("/oauth2/token", f, basicAuth(id, secret))
}

// login runs the password grant.
func (e *env) login(clientID, secret, user, pw string) response {
	e.t.Helper()
	f := url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}}
	if secret == "" {
		f.Set("client_id", clientID)
		return e.post("/oauth2/token", f)
	}
	return e.post("/oauth2/token", f, basicAuth(clientID, secret))
}

// refresh runs the refresh grant.
func (e *env) refresh(clientID, secret, token string, extra url.Values) response {
	e.t.Helper()
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
	for k, v := range extra {
		f[k] = v
	}
	if secret == "" {
		f.Set("client_id", clientID)
		return e.post("/oauth2/token", f)
	}
	return e.post("/oauth2/token", f, basicAuth(clientID, secret))
}

// verify checks an access token the way an outside resource server would:
// against the published JWKS, with jwx. It returns the header and claims.
func (e *env) verify(token string) (jws.Headers, map[string]any) {
	e.t.Helper()
	set, err := jwk.Parse(e.get("/.well-known/jwks.json").raw)
	if err != nil {
		e.t.Fatalf("parse JWKS: %v", err)
	}
	msg, err := jws.Parse([]byte(token))
	if err != nil {
		e.t.Fatalf("parse token: %v", err)
	}
	payload, err := jws.Verify([]byte(token), jws.WithKeySet(set, jws.WithRequireKid(true)))
	if err != nil {
		e.t.Fatalf("token does not verify against the JWKS: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		e.t.Fatal(err)
	}
	return msg.Signatures()[0].ProtectedHeaders(), claims
}

// wantError checks an RFC 6749 §5.2 error response.
func wantError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("got %d %s, want %d %s", r.status, r.raw, status, code)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	for k := range r.json {
		if k != "error" && k != "error_description" {
			t.Errorf("unexpected member %q in error body %s", k, r.raw)
		}
	}
}
