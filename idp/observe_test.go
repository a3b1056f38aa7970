package idp_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/internal/audit"
)

// auditBuffer holds an audit log in memory.
type auditBuffer struct {
	syncBuffer
	logger *audit.Logger
}

// String is every event emitted so far.
func (s *auditBuffer) String() string {
	_ = s.logger.Flush()
	return s.syncBuffer.String()
}

// events returns the audit events emitted so far, decoded.
func (s *auditBuffer) events(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		if line == "" {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line %q is not JSON: %v", line, err)
		}
		out = append(out, ev)
	}
	return out
}

// observedEnv is an env whose server records metrics in reg and audit
// events in log.
func observedEnv(t *testing.T, configure ...func(*idp.Config)) (*env, *idp.Metrics, *auditBuffer) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	m := idp.NewMetrics(reg)
	log := &auditBuffer{}
	log.logger = audit.New(&log.syncBuffer)
	e := newEnv(t, append([]func(*idp.Config){func(c *idp.Config) {
		c.Metrics, c.Audit = m, log.logger
	}}, configure...)...)
	t.Cleanup(func() {
		if _, err := reg.Gather(); err != nil {
			t.Errorf("gathering metrics: %v", err)
		}
	})
	return e, m, log
}

func TestMetricsAndAuditOfTokenRequests(t *testing.T) {
	e, m, log := observedEnv(t)
	secret := e.client(idp.ClientSpec{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}, TokenAlg: "EdDSA"})
	appSecret := e.client(idp.ClientSpec{ID: "app", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read"}})
	u := e.user("alice", "correct horse battery")

	for range 3 {
		if r := e.clientCredentials("svc", secret, nil); r.status != 200 {
			t.Fatalf("client_credentials: %d %s", r.status, r.raw)
		}
	}
	wantError(t, e.clientCredentials("svc", "wrong", nil), 401, "invalid_client")
	wantError(t, e.login("app", appSecret, "alice", "wrong password"), 400, "invalid_grant")
	first := e.login("app", appSecret, "alice", "correct horse battery")
	if first.status != 200 {
		t.Fatalf("password grant: %d %s", first.status, first.raw)
	}
	second := e.refresh("app", appSecret, first.str("refresh_token"), nil)
	if second.status != 200 {
		t.Fatalf("refresh: %d %s", second.status, second.raw)
	}
	wantError(t, e.refresh("app", appSecret, first.str("refresh_token"), nil), 400, "invalid_grant") // reuse

	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"client_credentials/EdDSA issued", idp.MetricValue(m, "tokens_issued", "client_credentials", "EdDSA"), 3},
		{"password/RS256 issued", idp.MetricValue(m, "tokens_issued", "password", "RS256"), 1},
		{"refresh_token/RS256 issued", idp.MetricValue(m, "tokens_issued", "refresh_token", "RS256"), 1},
		{"invalid_client errors", idp.MetricValue(m, "token_errors", "invalid_client"), 1},
		{"invalid_grant errors", idp.MetricValue(m, "token_errors", "invalid_grant"), 2},
		{"rotations", idp.MetricValue(m, "refresh_rotations"), 1},
		{"reuse", idp.MetricValue(m, "refresh_reuse"), 1},
		{"families revoked for reuse", idp.MetricValue(m, "families_revoked", "reuse"), 1},
		{"failed logins", idp.MetricValue(m, "logins", "failed"), 1},
		{"succeeded logins", idp.MetricValue(m, "logins", "succeeded"), 1},
		{"token requests answered 2xx", idp.MetricValue(m, "http", "/oauth2/token", "POST", "2xx"), 5},
		{"token requests answered 4xx", idp.MetricValue(m, "http", "/oauth2/token", "POST", "4xx"), 3},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	var names []string
	for _, ev := range log.events(t) {
		names = append(names, ev["event"].(string))
		if ev["log"] != "audit" || ev["request_id"] == "" || ev["remote_addr"] == "" || ev["outcome"] == "" || ev["time"] == "" {
			t.Errorf("event lacks a field: %v", ev)
		}
	}
	want := []string{
		audit.TokenIssued, audit.TokenIssued, audit.TokenIssued,
		audit.LoginFailed, audit.LoginSucceeded, audit.TokenIssued, audit.TokenIssued,
		audit.RefreshReused, audit.RefreshFamilyRevoked,
	}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("audit events\n got %v\nwant %v", names, want)
	}
	all := log.String()
	for _, s := range []string{secret, appSecret, "correct horse battery", "wrong password", first.str("refresh_token"),
		first.str("access_token"), second.str("refresh_token"), second.str("access_token")} {
		if strings.Contains(all, s) {
			t.Errorf("the audit log holds a secret, password or token (%.12s…)", s)
		}
	}
	if !strings.Contains(all, `"actor_id":"`+u.ID+`"`) {
		t.Errorf("no event names alice (%s) as the actor:\n%s", u.ID, all)
	}
}

func TestRequestID(t *testing.T) {
	e, _, log := observedEnv(t)
	secret := e.client(idp.ClientSpec{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	withID := func(id string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("X-Request-Id", id) }
	}
	cc := url.Values{"grant_type": {"client_credentials"}}
	for _, c := range []struct {
		name, sent string
		kept       bool
	}{
		{"none", "", false},
		{"safe", "req-42_a.b:c", true},
		{"too long", strings.Repeat("a", 65), false},
		{"unsafe characters", `a"b`, false},
		{"space", "a b", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := []func(*http.Request){basicAuth("svc", secret)}
			if c.sent != "" {
				opts = append(opts, withID(c.sent))
			}
			r := e.post("/oauth2/token", cc, opts...)
			got := r.header.Get("X-Request-Id")
			switch {
			case c.kept && got != c.sent:
				t.Fatalf("X-Request-Id = %q, want the client's %q", got, c.sent)
			case !c.kept && (got == "" || got == c.sent || !audit.AcceptRequestID(got)):
				t.Fatalf("X-Request-Id = %q for a client's %q", got, c.sent)
			}
			evs := log.events(t)
			if last := evs[len(evs)-1]; last["request_id"] != got {
				t.Fatalf("audit event has request_id %v, the response %q", last["request_id"], got)
			}
		})
	}
	// Every answer carries one, errors and 404s too.
	for _, path := range []string{"/nowhere", "/.well-known/jwks.json", "/healthz"} {
		if r := e.get(path); r.header.Get("X-Request-Id") == "" {
			t.Errorf("GET %s: no X-Request-Id", path)
		}
	}
}

func TestMetricsAndAuditOfFamilyCap(t *testing.T) {
	e, m, log := observedEnv(t, func(c *idp.Config) { c.MaxFamiliesPerUserClient = 1 })
	secret := e.client(idp.ClientSpec{ID: "app", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read"}})
	u := e.user("bob", "correct horse battery")
	for range 3 {
		if r := e.login("app", secret, "bob", "correct horse battery"); r.status != 200 {
			t.Fatalf("login: %d %s", r.status, r.raw)
		}
	}
	if got := idp.MetricValue(m, "families_revoked", "family_limit"); got != 2 {
		t.Errorf("families revoked for the cap = %v, want 2", got)
	}
	n := 0
	for _, ev := range log.events(t) {
		if ev["event"] == audit.RefreshFamilyRevoked {
			n++
			if ev["reason"] != "family_limit" || ev["sub"] != u.ID || ev["actor_id"] != "app" {
				t.Errorf("event %v", ev)
			}
		}
	}
	if n != 2 {
		t.Errorf("%d refresh.family_revoked events, want 2", n)
	}
}
