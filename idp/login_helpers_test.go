package idp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// sourceClient returns an HTTP client whose connections come from ip. On
// Linux every 127.0.0.0/8 address is local, so one test can be many
// clients, each with its own real RemoteAddr.
func sourceClient(t testing.TB, ip string) *http.Client {
	t.Helper()
	src := net.ParseIP(ip)
	if src == nil {
		t.Fatalf("bad source address %q", ip)
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: src}}
	tr := &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConnsPerHost: 64,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// loginVia runs the password grant against base (Rotor, or a proxy in front
// of it) through c, with extra request options such as headers.
func (e *env) loginVia(c *http.Client, base, clientID, secret, user, pw string, opts ...func(*http.Request)) response {
	e.t.Helper()
	f := url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, base+"/oauth2/token", strings.NewReader(f.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	for _, o := range opts {
		o(req)
	}
	resp, err := c.Do(req)
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

// burst runs f(0..n-1) at once, released together, and returns the answers.
func burst(n int, f func(i int) response) []response {
	out := make([]response, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			out[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return out
}

// tally counts answers by status and error code, e.g. "400 invalid_grant".
func tally(rs []response) map[string]int {
	m := map[string]int{}
	for _, r := range rs {
		m[fmt.Sprintf("%d %s", r.status, r.str("error"))]++
	}
	return m
}

// syncBuffer is a log destination many handlers can write at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
