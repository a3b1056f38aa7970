package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/rotor-idp/rotor/internal/dpoptest"
	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/internal/proctest"
	"github.com/rotor-idp/rotor/internal/rotortest"
)

// TestZeroDowntimeRotationDPoP is the rotation scenario with no secret and
// no bearer token: clients on private_key_jwt that must use DPoP get
// DPoP-bound tokens through the balancer and present them, each with a
// fresh proof, to the example API, through three rotations of both lanes.
// Every token request is answered 200 with a DPoP token, every call
// verified.
func TestZeroDowntimeRotationDPoP(t *testing.T) {
	d := newDeployment(t, pgtest.NewDatabase(t), 3)
	clients := map[string]*dpoptest.Prover{}
	for _, c := range []struct{ id, alg string }{{"job-rs", "RS256"}, {"job-ed", "EdDSA"}} {
		clients[c.id] = addKeyClient(t, d, c.id, c.alg)
	}
	var c counters
	var kids sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		id := []string{"job-rs", "job-ed"}[i%2]
		wg.Go(func() { d.dpopWorker(t, id, clients[id], stop, &c, &kids) })
	}
	var promoted []string
	for i := range 3 {
		for _, alg := range []string{"RS256", "EdDSA"} {
			promoted = append(promoted, rotateWhenPropagated(t, d.Deployment, alg).Current)
		}
		t.Logf("rotation %d done: %s", i+1, c.String())
	}
	last := promoted[len(promoted)-2:]
	proctest.Await(t, 20*time.Second, "tokens signed by the last promoted keys", func() bool {
		_, a := kids.Load(last[0])
		_, b := kids.Load(last[1])
		return a && b
	})
	close(stop)
	wg.Wait()
	t.Logf("load: %s", c.String())
	if n := c.get("verify ok"); n < 100 {
		t.Errorf("only %d verified requests; the load did not run", n)
	}
	requireOnly(t, &c, "token ok", "verify ok")
	if c.get("verify ok") != c.get("token ok") {
		t.Errorf("%d tokens issued, %d verified: %s", c.get("token ok"), c.get("verify ok"), c.String())
	}
}

// addKeyClient registers a private_key_jwt client that must use DPoP, with
// an ES256 key, its tokens signed with tokenAlg.
func addKeyClient(t *testing.T, d *deployment, id, tokenAlg string) *dpoptest.Prover {
	k := dpoptest.New(t, "ES256")
	pub, _ := k.Public.Clone()
	_ = pub.Set(jwk.AlgorithmKey, k.Alg)
	_ = pub.Set(jwk.KeyIDKey, "k1")
	set := jwk.NewSet()
	_ = set.AddKey(pub)
	raw, _ := json.Marshal(set)
	f := filepath.Join(t.TempDir(), id+".jwks")
	if err := os.WriteFile(f, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	d.MustRunBinary("", "clients", "add", id, "--grant-types", "client_credentials", "--scopes", "schedules:read",
		"--audience", audience, "--token-alg", tokenAlg, "--auth-method", "private_key_jwt", "--jwks-file", f, "--require-dpop")
	return k
}

// dpopWorker gets a bound token and uses it, until stop is closed.
func (d *deployment) dpopWorker(t *testing.T, id string, key *dpoptest.Prover, stop <-chan struct{}, c *counters, kids *sync.Map) {
	tr := &dpoptest.Transport{DPoP: dpoptest.New(t, "EdDSA"), TokenURL: d.lb.URL() + "/oauth2/token", ClientID: id, Key: key, KeyID: "k1"}
	client := &http.Client{Timeout: 10 * time.Second, Transport: tr}
	for {
		select {
		case <-stop:
			return
		default:
		}
		resp, err := client.Post(tr.TokenURL, "application/x-www-form-urlencoded", strings.NewReader("grant_type=client_credentials&client_id="+id))
		if err != nil {
			c.add("token transport error")
			continue
		}
		var tok struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
			Error       string `json:"error"`
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		_ = json.Unmarshal(body, &tok)
		switch {
		case resp.StatusCode != http.StatusOK:
			c.add(statusClass("token", resp.StatusCode, nil) + " " + tok.Error)
			continue
		case tok.TokenType != "DPoP":
			c.add("token not DPoP-bound")
			continue
		}
		c.add("token ok")
		kids.Store(rotortest.KID(t, tok.AccessToken), true)
		req, _ := http.NewRequest(http.MethodGet, d.api.url+"/schedules/20201209", nil)
		req.Header.Set("Authorization", "DPoP "+tok.AccessToken)
		resp, err = client.Do(req)
		status := 0
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			status = resp.StatusCode
		}
		c.add(statusClass("verify", status, err))
	}
}
