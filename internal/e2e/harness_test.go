package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/proctest"
	"github.com/rotor-idp/rotor/internal/rotortest"
)

const audience = "https://schedules.example"

// balancer is a round-robin reverse proxy in front of the replicas: the
// issuer URL every replica shares, as a load balancer would provide.
type balancer struct {
	srv      *httptest.Server
	mu       sync.Mutex
	backends []*httputil.ReverseProxy
	next     atomic.Uint64
}

func newBalancer(t *testing.T) *balancer {
	b := &balancer{}
	b.srv = httptest.NewServer(b)
	t.Cleanup(b.srv.Close)
	return b
}

func (b *balancer) URL() string { return b.srv.URL }

func (b *balancer) set(replicas ...*rotortest.Replica) {
	var ps []*httputil.ReverseProxy
	for _, r := range replicas {
		u, _ := url.Parse(r.URL)
		p := httputil.NewSingleHostReverseProxy(u)
		p.ErrorLog = log.New(io.Discard, "", 0) // a stopped replica is part of some tests
		ps = append(ps, p)
	}
	b.mu.Lock()
	b.backends = ps
	b.mu.Unlock()
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	ps := b.backends
	b.mu.Unlock()
	if len(ps) == 0 {
		http.Error(w, "no replicas", http.StatusBadGateway)
		return
	}
	ps[b.next.Add(1)%uint64(len(ps))].ServeHTTP(w, r)
}

// exampleAPI is a running cmd/example-api.
type exampleAPI struct {
	*proctest.Proc
	url string
}

var apiListeningRE = regexp.MustCompile(`msg="example-api listening" addr=(\S+)`)

func startExampleAPI(t *testing.T, issuer string) *exampleAPI {
	t.Helper()
	bin := proctest.Build(t, "./cmd/example-api")
	p := proctest.Start(t, "example-api", bin, []string{"--issuer", issuer, "--audience", audience, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"})
	a := &exampleAPI{Proc: p, url: "http://" + p.WaitOutput(t, apiListeningRE, 60*time.Second)}
	proctest.WaitReady(t, a.url+"/healthz", 30*time.Second)
	return a
}

// schedules calls the example API with a token and returns the status.
func (a *exampleAPI) schedules(client *http.Client, token string) (int, error) {
	req, _ := http.NewRequest(http.MethodGet, a.url+"/schedules/20201209", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// get fetches url and returns the status, headers and body.
func get(t *testing.T, url string) (int, http.Header, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body
}

// keyInfo is one entry of `rotor keys list --json`.
type keyInfo struct {
	KID       string    `json:"kid"`
	Alg       string    `json:"alg"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
}

func keysIn(t *testing.T, d *rotortest.Deployment, state string) map[string]keyInfo {
	t.Helper()
	var ks []keyInfo
	if err := json.Unmarshal([]byte(d.MustRunBinary("", "keys", "list", "--json")), &ks); err != nil {
		t.Fatal(err)
	}
	out := map[string]keyInfo{}
	for _, k := range ks {
		if k.State == state {
			out[k.Alg] = k
		}
	}
	return out
}

// counters tally what a load saw.
type counters struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *counters) add(what string) {
	c.mu.Lock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[what]++
	c.mu.Unlock()
}

func (c *counters) get(what string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[what]
}

func (c *counters) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, _ := json.Marshal(c.counts)
	return string(b)
}

// requireOnly fails the test if the counters saw any class of answer but
// the allowed ones: a load passes on what it must see, not on a list of
// failures it must not.
func requireOnly(t *testing.T, c *counters, allowed ...string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for class, n := range c.counts {
		if !slices.Contains(allowed, class) {
			t.Errorf("%d × %s; want only %s (all answers: %v)", n, class, strings.Join(allowed, ", "), c.counts)
		}
	}
}

// tokenClass names a token endpoint answer. A 503 is told apart by its shape
// (RFC 6749 §5.2 temporarily_unavailable with Retry-After) and by whether
// the test expected one (outage).
func tokenClass(tr rotortest.TokenResponse, err error, outage bool) string {
	switch {
	case err == nil && tr.Status == http.StatusServiceUnavailable && tr.Error == "temporarily_unavailable" && tr.RetryAfter != "":
		if outage {
			return "token 503 during the outage"
		}
		return "token 503 outside the outage"
	case err == nil && tr.Status != http.StatusOK && tr.Error != "":
		return statusClass("token", tr.Status, err) + " " + tr.Error
	}
	return statusClass("token", tr.Status, err)
}

// rotateWhenPropagated rotates one lane with `rotor keys rotate --alg`,
// retrying while Rotor refuses because the next key has not been published
// for the propagation delay: the delay is wall-clock time that has to pass,
// and asking is how to know it has.
func rotateWhenPropagated(t *testing.T, d *rotortest.Deployment, alg string) keyRotation {
	t.Helper()
	var r keyRotation
	proctest.Await(t, 60*time.Second, alg+" rotation to be accepted", func() bool {
		out, err := d.RunBinary("", "keys", "rotate", "--alg", alg, "--json")
		if err != nil {
			if !strings.Contains(err.Error(), "less than the propagation delay") {
				t.Fatalf("keys rotate --alg %s: %v", alg, err)
			}
			return false
		}
		var rs []keyRotation
		if err := json.Unmarshal([]byte(out), &rs); err != nil || len(rs) != 1 {
			t.Fatalf("keys rotate --json printed %q (%v)", out, err)
		}
		r = rs[0]
		return true
	})
	return r
}

// keyRotation is one entry of `rotor keys rotate --json`.
type keyRotation struct {
	Alg     string `json:"alg"`
	Current string `json:"current_kid"`
	Next    string `json:"next_kid"`
}

// statusClass names an answer for counters.
func statusClass(prefix string, status int, err error) string {
	switch {
	case err != nil:
		return prefix + " transport error"
	case status == http.StatusServiceUnavailable:
		return prefix + " 503"
	case status >= 500:
		return prefix + " 5xx"
	case status == http.StatusOK:
		return prefix + " ok"
	default:
		return prefix + " " + strings.ToLower(http.StatusText(status))
	}
}
