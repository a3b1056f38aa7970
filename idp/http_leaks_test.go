package idp_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// TestUnroutedAnswersHaveSecurityHeaders: a path Rotor does not serve, and
// a method a path does not take, get the headers of every other answer:
// never cached, not framed, no referrer, no sniffing.
func TestUnroutedAnswersHaveSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, method, path string
		status             int
		allow              []string
	}{
		{"unknown path", http.MethodGet, "/nope", http.StatusNotFound, nil},
		{"unknown path, POST", http.MethodPost, "/oauth2/nope", http.StatusNotFound, nil},
		{"GET on the token endpoint", http.MethodGet, "/oauth2/token", http.StatusMethodNotAllowed, []string{"POST"}},
		{"DELETE on the JWKS", http.MethodDelete, "/.well-known/jwks.json", http.StatusMethodNotAllowed, []string{"GET", "HEAD"}},
		{"PUT on userinfo", http.MethodPut, "/oauth2/userinfo", http.StatusMethodNotAllowed, []string{"GET", "POST"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, e.url+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			r := e.do(req)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d", r.status, tt.status)
			}
			for k, want := range map[string]string{
				"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
				"X-Content-Type-Options": "nosniff",
			} {
				if got := r.header.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("Content-Security-Policy: %q", csp)
			}
			if got := r.header.Values("Allow"); strings.Join(got, ",") != strings.Join(tt.allow, ",") {
				t.Errorf("Allow: %q, want %q", got, tt.allow)
			}
		})
	}
}

// TestSaturationLogIsRateLimited: every 503 from saturated hashing used to
// log a WARN line, so anyone could flood the logs with password guesses. A
// burst of 503s now logs one line (TestLogLimiter covers the next one,
// which says how many were held back).
func TestSaturationLogIsRateLimited(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, func(c *idp.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		c.HashConcurrency, c.HashWait = 1, 10*time.Millisecond
	})
	secret := e.client(idp.ClientSpec{ID: "web", GrantTypes: []string{"password"}, Scopes: []string{"read"}})
	e.user("alice", ownerPW)

	release := e.hooks.HoldHashSlots()
	defer release()
	got := tally(burst(40, func(i int) response {
		return e.login("web", secret, fmt.Sprintf("user%d", i), "guess")
	}))
	if got["503 temporarily_unavailable"] != 40 {
		t.Fatalf("answers while hashing is saturated: %v, want 40 × 503", got)
	}
	lines := strings.Count(logs.String(), `msg="request failed"`)
	if lines != 1 {
		t.Errorf("%d log lines for a burst of 40 × 503, want 1:\n%s", lines, logs.String())
	}
}
