package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/internal/proctest"
	"github.com/rotor-idp/rotor/internal/rotortest"
)

// TestMetricsAndAuditOfARun drives one replica and the admin commands
// through the acts an operator watches, then checks that /metrics (parsed
// with expfmt) counted each of them and that the audit log holds one event
// per act, with its actor, and not a single secret, password or token.
func TestMetricsAndAuditOfARun(t *testing.T) {
	d := rotortest.New(t, pgtest.NewDatabase(t))
	d.Env["ROTOR_KEY_ROTATION_PERIOD"] = "5s"
	svc := d.AddClient("svc", "--scopes", "read", "--audience", audience, "--token-alg", "EdDSA")
	web := d.AddClient("web", "--grant-types", "password,refresh_token", "--scopes", "read", "--audience", audience)
	const password = "correct horse battery staple"
	d.MustRunBinary(password+"\n", "users", "add", "alice")
	r := d.Serve("rotor")
	client := &http.Client{Timeout: 30 * time.Second}
	token := func(id, secret string, form url.Values) rotortest.TokenResponse {
		t.Helper()
		tr, err := rotortest.Token(client, r.URL, id, secret, form)
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	secrets := []string{svc, web, password}

	for range 5 {
		if tr := token("svc", svc, url.Values{"grant_type": {"client_credentials"}}); tr.Status != 200 {
			t.Fatalf("client_credentials: %+v", tr)
		}
	}
	login := token("web", web, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {password}})
	refreshed := token("web", web, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {login.RefreshToken}})
	replay := token("web", web, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {login.RefreshToken}})
	if login.Status != 200 || refreshed.Status != 200 || replay.Error != "invalid_grant" {
		t.Fatalf("login %d, refresh %d, replay %q", login.Status, refreshed.Status, replay.Error)
	}
	secrets = append(secrets, login.AccessToken, login.RefreshToken, refreshed.AccessToken, refreshed.RefreshToken)
	// A fresh family, revoked by its client (RFC 7009).
	again := token("web", web, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {password}})
	secrets = append(secrets, again.AccessToken, again.RefreshToken)
	revoke(t, client, r.URL, "web", web, again.RefreshToken)
	// Guesses: the default throttle checks 10 per account and address, then
	// answers 429.
	for i := range 12 {
		guess := fmt.Sprintf("guess number %d", i)
		secrets = append(secrets, guess)
		token("web", web, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {guess}})
	}

	// The schedule rotates both lanes (5s period, 3s propagation).
	proctest.Await(t, 60*time.Second, "the replica to count scheduled rotations in both lanes", func() bool {
		m := r.Metrics(t)
		return m.Sum("rotor_key_rotations_total", "alg", "RS256", "trigger", "schedule") >= 1 &&
			m.Sum("rotor_key_rotations_total", "alg", "EdDSA", "trigger", "schedule") >= 1
	})
	// The CLI revokes a key the scheduler retired: when, and by whom,
	// must both be in the audit log.
	var retired string
	d.AwaitAudit(t, "the scheduler retiring an EdDSA key", func(events []rotortest.AuditEvent) bool {
		for _, e := range events {
			if e.Str("event") == "key.retired" && e.Str("actor") == "scheduler" && e.Str("alg") == "EdDSA" {
				retired = e.Str("kid")
			}
		}
		return retired != ""
	})
	d.MustRunBinary("", "keys", "revoke", "--", retired)
	d.MustRunBinary("", "users", "disable", "alice")

	m := r.Metrics(t)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"rotor_tokens_issued_total", []string{"grant", "client_credentials", "alg", "EdDSA"}, 5},
		{"rotor_tokens_issued_total", []string{"grant", "password"}, 2},
		{"rotor_tokens_issued_total", []string{"grant", "refresh_token"}, 1},
		{"rotor_refresh_rotations_total", nil, 1},
		{"rotor_refresh_reuse_detected_total", nil, 1},
		{"rotor_refresh_families_revoked_total", []string{"reason", "reuse"}, 1},
		{"rotor_refresh_families_revoked_total", []string{"reason", "client"}, 1},
		{"rotor_revocations_total", []string{"revoked", "true"}, 1},
		{"rotor_logins_total", []string{"outcome", "succeeded"}, 2},
		{"rotor_logins_total", []string{"outcome", "failed"}, 10},
		{"rotor_logins_total", []string{"outcome", "throttled"}, 2},
		{"rotor_logins_throttled_total", []string{"reason", "account"}, 2},
		{"rotor_token_errors_total", []string{"error", "invalid_grant"}, 11},
		{"rotor_token_errors_total", []string{"error", "temporarily_unavailable"}, 2},
		{"rotor_keys", []string{"state", "current"}, 2},
		{"rotor_keys", []string{"state", "next"}, 2},
		{"rotor_key_ring_loaded", nil, 1},
		{"rotor_http_request_duration_seconds", []string{"route", "/oauth2/revoke", "status_class", "2xx"}, 1},
	} {
		if got := m.Sum(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got := m.Sum("rotor_http_request_duration_seconds", "route", "/oauth2/token", "method", "POST"); got != 21 {
		t.Errorf("token requests counted: %v, want 21", got)
	}
	if s := m.Sum("rotor_key_ring_staleness_seconds"); s < 0 || s > 10 {
		t.Errorf("key ring staleness %vs with the database up (poll 1s)", s)
	}
	for _, alg := range []string{"RS256", "EdDSA"} {
		if age := m.Sum("rotor_key_current_age_seconds", "alg", alg); age < 0 || age > 30 {
			t.Errorf("%s current key age %vs", alg, age)
		}
		if next := m.Sum("rotor_key_next_rotation_seconds", "alg", alg); next > 5 {
			t.Errorf("%s next rotation in %vs, period 5s", alg, next)
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "rotor_db_pool_connections", "rotor_argon2_wait_seconds"} {
		if !m.Has(name) {
			t.Errorf("no %s in the scrape", name)
		}
	}
	// Never on the public listener.
	if status, _, _ := get(t, r.URL+"/metrics"); status != http.StatusNotFound {
		t.Errorf("GET /metrics on the public listener: %d, want 404", status)
	}

	// Everything the replica did is written once the login events of the
	// last guesses are.
	d.AwaitAudit(t, "the replica's events", func(events []rotortest.AuditEvent) bool {
		n := 0
		for _, e := range events {
			if e.Str("event") == "login.throttled" {
				n++
			}
		}
		return n == 2
	})
	checkAudit(t, d, retired, secrets)
}

// checkAudit reads the deployment's audit log and checks it event by event
// against the acts of TestMetricsAndAuditOfARun.
func checkAudit(t *testing.T, d *rotortest.Deployment, revoked string, secrets []string) {
	t.Helper()
	events := d.AuditEvents(t)
	count := map[string]int{}
	var aliceID string
	for _, e := range events {
		count[e.Str("event")]++
		if e.Str("event") == "user.created" {
			aliceID = e.Str("user_id")
		}
		if e.Str("time") == "" || e.Str("actor") == "" || e.Str("outcome") == "" {
			t.Errorf("event without time, actor or outcome: %v", e)
		}
		if e.Str("actor") != "cli" && e.Str("actor") != "scheduler" && (e.Str("remote_addr") == "" || e.Str("request_id") == "") {
			t.Errorf("request event without remote address or request id: %v", e)
		}
	}
	for name, want := range map[string]int{
		"client.created": 2, "user.created": 1, "user.disabled": 1,
		"login.succeeded": 2, "login.failed": 10, "login.throttled": 2,
		"token.issued": 8, "refresh.reused": 1, "refresh.family_revoked": 2, "token.revoked": 1,
	} {
		if count[name] != want {
			t.Errorf("%d %s events, want %d (all: %v)", count[name], name, want, count)
		}
	}
	has := func(what string, match func(rotortest.AuditEvent) bool) {
		t.Helper()
		if !slices.ContainsFunc(events, match) {
			t.Errorf("no audit event: %s", what)
		}
	}
	has("alice signed in to web", func(e rotortest.AuditEvent) bool {
		return e.Str("event") == "login.succeeded" && e.Str("actor_id") == aliceID && aliceID != "" && e.Str("client_id") == "web"
	})
	has("a token issued to alice through web, with its jti and kid", func(e rotortest.AuditEvent) bool {
		return e.Str("event") == "token.issued" && e.Str("sub") == aliceID && e.Str("client_id") == "web" &&
			e.Str("jti") != "" && e.Str("kid") != "" && e.Str("grant") == "password"
	})
	has("the scheduler activating a key", func(e rotortest.AuditEvent) bool {
		return e.Str("event") == "key.activated" && e.Str("actor") == "scheduler" && e.Str("trigger") == "schedule"
	})
	has("the CLI revoking the retired key", func(e rotortest.AuditEvent) bool {
		return e.Str("event") == "key.revoked" && e.Str("actor") == "cli" && e.Str("trigger") == "emergency" && e.Str("kid") == revoked
	})

	raw, err := os.ReadFile(d.AuditLog())
	if err != nil {
		t.Fatal(err)
	}
	kek := d.Env["ROTOR_KEY_ENCRYPTION_KEYS"]
	secrets = append(secrets, kek[strings.Index(kek, ":")+1:])
	for _, s := range secrets {
		if s != "" && strings.Contains(string(raw), s) {
			t.Errorf("the audit log holds a secret, password, token or key (%.10s…)", s)
		}
	}
	for _, member := range []string{`"password":`, `"secret":`, `"client_secret":`, `"refresh_token":"`, `"access_token":`, `"d":`} {
		if strings.Contains(string(raw), member) {
			t.Errorf("the audit log has a %s member", member)
		}
	}
}

// revoke revokes a token with RFC 7009 and requires 200.
func revoke(t *testing.T, client *http.Client, base, id, secret, tok string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth2/revoke", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
}
