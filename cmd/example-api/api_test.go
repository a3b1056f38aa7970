package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rotor-idp/rotor/resource"
	"github.com/rotor-idp/rotor/resource/resourcetest"
)

func newTestAPI(t *testing.T) (*resourcetest.Issuer, *httptest.Server) {
	t.Helper()
	iss := resourcetest.New(t)
	v, err := resource.New(resource.Config{Issuer: iss.URL(), Audience: resourcetest.Audience})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	srv := httptest.NewServer(newAPI(v, newSchedules(), slog.New(slog.DiscardHandler)))
	t.Cleanup(srv.Close)
	return iss, srv
}

func call(t *testing.T, method, url, token, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func withScope(scope string) resourcetest.Option {
	return resourcetest.WithClaims(func(c *resourcetest.Claims) { c.Scope = scope })
}

func TestScheduleAPI(t *testing.T) {
	iss, srv := newTestAPI(t)
	read := iss.Token(withScope("schedules:read"))
	write := iss.Token(withScope("schedules:write"), resourcetest.WithAlg(resourcetest.EdDSA))
	both := iss.Token(withScope("schedules:read schedules:write"))
	newSchedule := `{"datetime":"20201210 210000","name":"Marine","title":"Karaoke","video_id":"x1"}`

	tests := []struct {
		name, method, path, token, body string
		status                          int
		wantBody, wantChallenge         string
	}{
		{name: "health needs no token", method: "GET", path: "/healthz", status: 200},
		{name: "no token", method: "GET", path: "/schedules/20201209", status: 401, wantChallenge: "Bearer"},
		{name: "garbage token", method: "GET", path: "/schedules/20201209", token: "garbage", status: 401, wantChallenge: `error="invalid_token"`},
		{name: "read", method: "GET", path: "/schedules/20201209", token: read, status: 200, wantBody: `"result":2`},
		{name: "bad date", method: "GET", path: "/schedules/2020-12-09", token: read, status: 400},
		{name: "impossible date", method: "GET", path: "/schedules/20201399", token: read, status: 400},
		{name: "read scope cannot write", method: "POST", path: "/schedules", token: read, body: newSchedule, status: 403, wantChallenge: `scope="schedules:write"`},
		{name: "write scope cannot read", method: "GET", path: "/schedules/20201209", token: write, status: 403, wantChallenge: "insufficient_scope"},
		{name: "write", method: "POST", path: "/schedules", token: write, body: newSchedule, status: 201, wantBody: `"created_by":"`},
		{name: "written schedule is listed", method: "GET", path: "/schedules/20201210", token: both, status: 200, wantBody: `"Karaoke"`},
		{name: "invalid schedule", method: "POST", path: "/schedules", token: both, body: `{"datetime":"tomorrow","name":"x","title":"y"}`, status: 400},
		{name: "unknown field", method: "POST", path: "/schedules", token: both, body: `{"datetime":"20201210 210000","name":"x","title":"y","admin":true}`, status: 400},
		{name: "oversized body", method: "POST", path: "/schedules", token: both, body: `{"title":"` + strings.Repeat("x", 20<<10) + `"}`, status: 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := call(t, tt.method, srv.URL+tt.path, tt.token, tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if !strings.Contains(body, tt.wantBody) {
				t.Errorf("body %s does not contain %s", body, tt.wantBody)
			}
			if ch := hdr.Get("WWW-Authenticate"); !strings.Contains(ch, tt.wantChallenge) {
				t.Errorf("WWW-Authenticate %q does not contain %q", ch, tt.wantChallenge)
			}
		})
	}
}

func TestRunFlagsAndEnvironment(t *testing.T) {
	var stderr strings.Builder
	env := map[string]string{"EXAMPLE_API_LOG_LEVEL": "loud"}
	err := run(t.Context(), nil, func(k string) string { return env[k] }, nil, nil, &stderr)
	if err == nil || !strings.Contains(err.Error(), "log-level") {
		t.Fatalf("bad EXAMPLE_API_LOG_LEVEL: %v", err)
	}
	err = run(t.Context(), []string{"--issuer", "ftp://nope"}, func(string) string { return "" }, nil, nil, &stderr)
	if err == nil {
		t.Fatal("accepted an ftp issuer")
	}
}
