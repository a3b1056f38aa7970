package signin

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/internal/rotortest"
)

const (
	audience = "https://schedules.example"
	alicePW  = "correct horse battery staple"
	verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" // RFC 7636 Appendix B
	// challenge is S256 of verifier.
	challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

// rig is a rotor serve on a fresh Postgres database with a user and three
// clients, and a relying party on loopback that their redirect URIs point
// to.
type rig struct {
	t       *testing.T
	d       *rotortest.Deployment
	rotor   *rotortest.Replica
	rp      *relyingParty
	secrets map[string]string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	rg := &rig{t: t, d: rotortest.New(t, pgtest.NewDatabase(t)), rp: newRelyingParty(t), secrets: map[string]string{}}
	for _, c := range []struct{ id, name string }{{"web", "Schedules"}, {"other", "Rota"}, {"third", "Third Party Planner"}} {
		args := []string{"--grant-types", "authorization_code,refresh_token", "--scopes", "schedules:read", "--audience", audience,
			"--redirect-uris", "http://127.0.0.1/cb", "--post-logout-redirect-uris", "http://127.0.0.1/signed-out", "--name", c.name}
		if c.id != "third" {
			args = append(args, "--first-party")
		}
		rg.secrets[c.id] = rg.d.AddClient(c.id, args...)
	}
	rg.d.MustRunBinary(alicePW+"\n", "users", "add", "alice", "--email", "alice@example.com", "--email-verified", "--display-name", "Alice Liddell")
	rg.rotor = rg.d.Serve("rotor")
	return rg
}

// authorizeURL is an authorization request of client to the relying party.
func (rg *rig) authorizeURL(client string, extra ...string) string {
	q := url.Values{
		"response_type": {"code"}, "client_id": {client}, "redirect_uri": {rg.rp.url + "/cb"},
		"scope": {"openid profile email schedules:read"}, "state": {"st-" + client}, "nonce": {"n-" + client},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return rg.rotor.URL + "/oauth2/authorize?" + q.Encode()
}

// tokens is a token endpoint answer.
type tokens struct {
	Status       int
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	Error        string `json:"error"`
}

// exchange redeems a code as client.
func (rg *rig) exchange(client, code string) tokens {
	rg.t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {rg.rp.url + "/cb"}}
	req, _ := http.NewRequest(http.MethodPost, rg.rotor.URL+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client, rg.secrets[client])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		rg.t.Fatal(err)
	}
	defer resp.Body.Close()
	tr := tokens{Status: resp.StatusCode}
	_ = json.NewDecoder(resp.Body).Decode(&tr)
	return tr
}

// idToken verifies an ID token with go-oidc, as a relying party would
// (discovery, JWKS, RS256, iss, aud, exp), and checks its nonce.
func (rg *rig) idToken(client, raw, nonce string) *oidc.IDToken {
	rg.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, rg.rotor.URL)
	if err != nil {
		rg.t.Fatalf("discovery: %v", err)
	}
	tok, err := p.Verifier(&oidc.Config{ClientID: client}).Verify(ctx, raw)
	if err != nil {
		rg.t.Fatalf("ID token: %v", err)
	}
	if tok.Nonce != nonce {
		rg.t.Errorf("nonce %q, want %q", tok.Nonce, nonce)
	}
	return tok
}

// relyingParty is where the clients' redirect URIs lead: it records every
// callback and shows a plain page the browser test can wait for.
type relyingParty struct {
	url  string
	mu   sync.Mutex
	hits chan url.Values
	// handle, if set, answers /cb instead of the plain page.
	handle func(w http.ResponseWriter, r *http.Request)
}

func newRelyingParty(t *testing.T) *relyingParty {
	t.Helper()
	rp := &relyingParty{hits: make(chan url.Values, 64)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cb" && r.URL.Path != "/signed-out" {
			http.NotFound(w, r) // the browser asks for /favicon.ico
			return
		}
		q := r.URL.Query()
		q.Set("_path", r.URL.Path)
		rp.hits <- q
		rp.mu.Lock()
		h := rp.handle
		rp.mu.Unlock()
		if h != nil && r.URL.Path == "/cb" {
			h(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><title>RP</title><h1 id="rp">%s</h1>`, r.URL.Path)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	rp.url = srv.URL
	return rp
}

// next waits for the next request to the relying party.
func (rp *relyingParty) next(t *testing.T) url.Values {
	t.Helper()
	select {
	case q := <-rp.hits:
		return q
	case <-time.After(60 * time.Second):
		t.Fatal("the browser never reached the relying party")
		return nil
	}
}

// screenshotDir is where the screenshots go: ROTOR_SCREENSHOT_DIR when set
// (to refresh docs/), else the test's temporary directory.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("ROTOR_SCREENSHOT_DIR"); d != "" {
		return d
	}
	return t.TempDir()
}
