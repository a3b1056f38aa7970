package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/internal/proctest"
	"github.com/rotor-idp/rotor/internal/rotortest"
)

// deployment is three replicas behind a balancer, the example API, and two
// service clients (RS256 and EdDSA tokens).
type deployment struct {
	*rotortest.Deployment
	lb       *balancer
	replicas []*rotortest.Replica
	api      *exampleAPI
	secrets  map[string]string
}

func newDeployment(t *testing.T, dbURL string, replicas int) *deployment {
	d := &deployment{Deployment: rotortest.New(t, dbURL), lb: newBalancer(t), secrets: map[string]string{}}
	d.Env["ROTOR_ISSUER"] = d.lb.URL()
	for _, c := range []struct{ id, alg string }{{"svc-rs", "RS256"}, {"svc-ed", "EdDSA"}} {
		d.secrets[c.id] = d.AddClient(c.id, "--scopes", "schedules:read", "--audience", audience, "--token-alg", c.alg)
	}
	d.startReplicas(replicas)
	d.api = startExampleAPI(t, d.lb.URL())
	return d
}

func (d *deployment) startReplicas(n int) {
	d.replicas = nil
	for i := range n {
		d.replicas = append(d.replicas, d.Serve("replica-"+string(rune('a'+i))))
	}
	d.lb.set(d.replicas...)
}

// load issues tokens through the balancer and uses each at the example API
// until stop is closed, tallying every answer (requireOnly then judges
// them). kids collects the signing keys seen.
func (d *deployment) load(t *testing.T, workers int, stop <-chan struct{}, c *counters, kids *sync.Map) *sync.WaitGroup {
	client := &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for i := range workers {
		id := []string{"svc-rs", "svc-ed"}[i%2]
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				tr, err := rotortest.Token(client, d.lb.URL(), id, d.secrets[id], url.Values{"grant_type": {"client_credentials"}})
				c.add(tokenClass(tr, err, false))
				if err != nil || tr.Status != http.StatusOK {
					continue
				}
				if kids != nil {
					kids.Store(rotortest.KID(t, tr.AccessToken), true)
				}
				status, err := d.api.schedules(client, tr.AccessToken)
				c.add(statusClass("verify", status, err))
			}
		})
	}
	return &wg
}

// TestZeroDowntimeRotation is scenario 1: three replicas under sustained
// issuance and verification; three rotations; every token request answered
// 200 and every token verified.
func TestZeroDowntimeRotation(t *testing.T) {
	d := newDeployment(t, pgtest.NewDatabase(t), 3)
	var c counters
	var kids sync.Map
	stop := make(chan struct{})
	wg := d.load(t, 4, stop, &c, &kids)

	var promoted []string
	for i := range 3 {
		// Each rotation may only promote a next key published for the
		// propagation delay (3s): Rotor refuses until then.
		for _, alg := range []string{"RS256", "EdDSA"} {
			promoted = append(promoted, rotateWhenPropagated(t, d.Deployment, alg).Current)
		}
		t.Logf("rotation %d done: %s", i+1, c.String())
	}
	// Keep the load on until every replica signs with the last keys.
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
	for _, k := range promoted {
		if _, ok := kids.Load(k); !ok {
			t.Errorf("key %s was promoted but never seen signing", k)
		}
	}
	requireOnly(t, &c, "token ok", "verify ok")
	if c.get("verify ok") != c.get("token ok") {
		t.Errorf("%d tokens issued, %d verified: %s", c.get("token ok"), c.get("verify ok"), c.String())
	}
}

// TestIdPDownResourceServerKeepsServing is scenario 2: with every replica
// stopped the example API still accepts tokens it has seen, and everything
// recovers when the replicas return.
func TestIdPDownResourceServerKeepsServing(t *testing.T) {
	d := newDeployment(t, pgtest.NewDatabase(t), 2)
	client := &http.Client{Timeout: 10 * time.Second}
	var tokens []string
	for _, id := range []string{"svc-rs", "svc-ed"} {
		tokens = append(tokens, d.replicas[0].ClientCredentials(t, id, d.secrets[id]))
	}
	for _, tok := range tokens {
		if status, err := d.api.schedules(client, tok); err != nil || status != http.StatusOK {
			t.Fatalf("before the outage: %d %v", status, err)
		}
	}

	for _, r := range d.replicas {
		r.Signal(syscall.SIGTERM)
		if err := r.Wait(t, 30*time.Second); err != nil {
			t.Fatalf("%s did not stop cleanly: %v", r.Name, err)
		}
	}
	if tr, err := rotortest.Token(client, d.lb.URL(), "svc-rs", d.secrets["svc-rs"], url.Values{"grant_type": {"client_credentials"}}); err == nil && tr.Status == http.StatusOK {
		t.Fatal("a token was issued with every replica down")
	}
	// Past the JWKS max-age the API's refreshes fail (it says so); it keeps
	// its keys and goes on serving, before and after it has noticed.
	failed := func() int { return strings.Count(d.api.Output(), `msg="rotor key set refresh failed"`) }
	failedBefore, served := failed(), 0
	proctest.Await(t, 30*time.Second, "the example API's key set refresh to fail", func() bool {
		for _, tok := range tokens {
			if status, err := d.api.schedules(client, tok); err != nil || status != http.StatusOK {
				t.Fatalf("with the IdP down: %d %v", status, err)
			}
			served++
		}
		return failed() > failedBefore
	})
	for _, tok := range tokens {
		if status, err := d.api.schedules(client, tok); err != nil || status != http.StatusOK {
			t.Fatalf("after the API's refresh failed: %d %v", status, err)
		}
	}
	t.Logf("%d requests served while the IdP was down, until the API's refresh failed", served)

	recovered := strings.Count(d.api.Output(), `msg="rotor key set refresh recovered"`)
	d.startReplicas(2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, id := range []string{"svc-rs", "svc-ed"} {
		tok := d.replicas[1].ClientCredentials(t, id, d.secrets[id])
		proctest.Await(t, 20*time.Second, "a new token to verify at the example API", func() bool {
			status, err := d.api.schedules(client, tok)
			return err == nil && status == http.StatusOK && ctx.Err() == nil
		})
	}
	proctest.Await(t, 30*time.Second, "the example API's key set refresh to recover", func() bool {
		return strings.Count(d.api.Output(), `msg="rotor key set refresh recovered"`) > recovered
	})
}

// TestAutomaticRotation lets the schedule rotate the keys: with a 5s period
// the replicas (whichever holds a lane's lock) rotate every lane twice under
// load, every replica follows, and every token request is answered 200 and
// every token verifies.
func TestAutomaticRotation(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	d := &deployment{Deployment: rotortest.New(t, dbURL), lb: newBalancer(t), secrets: map[string]string{}}
	d.Env["ROTOR_ISSUER"] = d.lb.URL()
	d.Env["ROTOR_KEY_ROTATION_PERIOD"] = "5s"
	for _, c := range []struct{ id, alg string }{{"svc-rs", "RS256"}, {"svc-ed", "EdDSA"}} {
		d.secrets[c.id] = d.AddClient(c.id, "--scopes", "schedules:read", "--audience", audience, "--token-alg", c.alg)
	}
	d.startReplicas(3)
	d.api = startExampleAPI(t, d.lb.URL())

	first := keysIn(t, d.Deployment, "current")
	var c counters
	var kids sync.Map
	stop := make(chan struct{})
	wg := d.load(t, 4, stop, &c, &kids)
	proctest.Await(t, 40*time.Second, "two scheduled rotations in every lane", func() bool {
		var ks []keyInfo
		if err := json.Unmarshal([]byte(d.MustRunBinary("", "keys", "list", "--json")), &ks); err != nil {
			t.Fatal(err)
		}
		signed := map[string]int{}
		for _, k := range ks {
			if _, ok := kids.Load(k.KID); ok {
				signed[k.Alg]++
			}
		}
		return signed["RS256"] >= 3 && signed["EdDSA"] >= 3
	})
	close(stop)
	wg.Wait()
	t.Logf("load: %s", c.String())
	for alg, k := range first {
		if cur := keysIn(t, d.Deployment, "current")[alg]; cur.KID == k.KID {
			t.Errorf("%s lane never rotated", alg)
		}
	}
	requireOnly(t, &c, "token ok", "verify ok")
	if c.get("verify ok") != c.get("token ok") || c.get("verify ok") < 100 {
		t.Errorf("failures during scheduled rotation: %s", c.String())
	}
	// Whichever replica won each lane's lock counted the rotation; together
	// they counted at least the two per lane the load saw, all scheduled.
	var issued float64
	rotations := map[string]float64{}
	for _, r := range d.replicas {
		m := r.Metrics(t)
		issued += m.Sum("rotor_tokens_issued_total", "grant", "client_credentials")
		for _, alg := range []string{"RS256", "EdDSA"} {
			rotations[alg] += m.Sum("rotor_key_rotations_total", "alg", alg, "trigger", "schedule")
		}
		if m.Sum("rotor_key_rotations_total", "trigger", "admin") != 0 {
			t.Errorf("%s counted an admin rotation; only the schedule rotated", r.Name)
		}
	}
	if rotations["RS256"] < 2 || rotations["EdDSA"] < 2 {
		t.Errorf("scheduled rotations counted by the replicas: %v, want at least 2 per lane", rotations)
	}
	if issued != float64(c.get("token ok")) {
		t.Errorf("the replicas counted %v tokens issued, the load got %d", issued, c.get("token ok"))
	}
}
