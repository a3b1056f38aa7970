package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/internal/rotortest"
)

// fromAddr is an HTTP client whose connections come from ip (any
// 127.0.0.0/8 address is local on Linux).
func fromAddr(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 64}}
}

// TestBruteForceBehindTrustedProxy is issue 11, findings 1–3 against the
// real binary: `rotor serve --trusted-proxies` behind a reverse proxy that
// appends X-Forwarded-For. A burst of guesses from one address, each
// forging a fresh X-Forwarded-For, is held to the default 10 per account
// and address; the owner, behind the same proxy, signs in meanwhile.
func TestBruteForceBehindTrustedProxy(t *testing.T) {
	d := rotortest.New(t, pgtest.NewDatabase(t))
	d.Env["ROTOR_TRUSTED_PROXIES"] = "127.0.0.1/32"
	web := d.AddClient("web", "--grant-types", "password", "--scopes", "read", "--audience", audience)
	d.MustRunBinary("correct horse battery staple\n", "users", "add", "alice")
	r := d.Serve("rotor")
	target, err := url.Parse(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
	t.Cleanup(proxy.Close)

	attacker, owner := fromAddr("127.0.0.2"), fromAddr("127.0.0.3")
	login := func(c *http.Client, pw string, header http.Header) (rotortest.TokenResponse, error) {
		c = &http.Client{Timeout: c.Timeout, Transport: headerTransport{c.Transport, header}}
		return rotortest.Token(c, proxy.URL, "web", web, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {pw}})
	}

	var cnt counters
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 40 {
		wg.Go(func() {
			<-start
			tr, err := login(attacker, fmt.Sprintf("guess %d", i), http.Header{"X-Forwarded-For": {fmt.Sprintf("198.51.100.%d", i)}})
			cnt.add(statusClass("guess", tr.Status, err))
		})
	}
	close(start)
	tr, err := login(owner, "correct horse battery staple", nil)
	wg.Wait()
	if err != nil || tr.Status != http.StatusOK {
		t.Errorf("owner during the attack: %v %+v", err, tr)
	}
	if cnt.get("guess bad request") != 10 || cnt.get("guess too many requests") != 30 {
		t.Errorf("guesses: %s, want 10 checked and 30 told to wait", cnt.String())
	}
	if tr, err := login(attacker, "correct horse battery staple", nil); err != nil || tr.Status != http.StatusTooManyRequests || tr.RetryAfter == "" {
		t.Errorf("attacker with the right password: %v %+v, want 429 with Retry-After", err, tr)
	}
	// The metrics count each refusal by the bucket that refused it, and the
	// audit log names the attacker's address, not the forged ones.
	m := r.Metrics(t)
	if got := m.Sum("rotor_logins_throttled_total", "reason", "account"); got != 31 {
		t.Errorf("throttled logins (account) = %v, want 31", got)
	}
	if f, s := m.Sum("rotor_logins_total", "outcome", "failed"), m.Sum("rotor_logins_total", "outcome", "succeeded"); f != 10 || s != 1 {
		t.Errorf("logins failed %v, succeeded %v; want 10, 1", f, s)
	}
	count := func(events []rotortest.AuditEvent, name string) int {
		n := 0
		for _, e := range events {
			if e.Str("event") == name {
				n++
			}
		}
		return n
	}
	events := d.AwaitAudit(t, "31 login.throttled events", func(es []rotortest.AuditEvent) bool { return count(es, "login.throttled") >= 31 })
	throttled := 0
	for _, e := range events {
		if e.Str("event") == "login.throttled" {
			throttled++
			if e.Str("remote_addr") != "127.0.0.2" || e.Str("username") != "alice" {
				t.Errorf("login.throttled event %v: want remote_addr 127.0.0.2, username alice", e)
			}
		}
	}
	if throttled != 31 {
		t.Errorf("%d login.throttled events, want 31", throttled)
	}
}

// headerTransport adds headers to every request, as a client forging them.
type headerTransport struct {
	base   http.RoundTripper
	header http.Header
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h.header {
		r.Header[k] = v
	}
	return h.base.RoundTrip(r)
}
