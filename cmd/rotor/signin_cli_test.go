package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/sql/postgres"
	"github.com/rotor-idp/rotor/sql/sqlite"
)

func TestCLISignInClients(t *testing.T) {
	e := newTestEnv(t)
	e.addClient("portal", "--grant-types", "authorization_code,refresh_token", "--audience", "https://api",
		"--redirect-uris", "https://app.example.com/cb, http://127.0.0.1/cb", "--redirect-uris", "https://app.example.com/cb2",
		"--post-logout-redirect-uris", "https://app.example.com/", "--first-party", "--name", "Schedules portal")
	e.mustRunInProcess("", "clients", "add", "native", "--public", "--grant-types", "authorization_code",
		"--audience", "https://api", "--redirect-uris", "com.example.app:/cb")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--grant-types", "authorization_code"}, "at least one redirect URI"},
		{[]string{"--grant-types", "authorization_code", "--redirect-uris", "https://app.example.com/cb#x"}, "fragment"},
		{[]string{"--grant-types", "authorization_code", "--redirect-uris", "http://app.example.com/cb"}, "https"},
		{[]string{"--grant-types", "authorization_code", "--redirect-uris", "http://localhost/cb"}, "localhost"},
		{[]string{"--grant-types", "authorization_code", "--redirect-uris", "https://*.example.com/cb"}, "wildcards"},
		{[]string{"--grant-types", "authorization_code", "--redirect-uris", "com.example.app:/cb"}, "public"},
		{[]string{"--grant-types", "password", "--redirect-uris", "https://app.example.com/cb"}, "authorization_code grant"},
		{[]string{"--grant-types", "password", "--first-party"}, "authorization_code grant"},
		{[]string{"--grant-types", "implicit"}, "unknown grant type"},
	} {
		args := append([]string{"clients", "add", "bad", "--audience", "https://api"}, tt.args...)
		if _, _, err := e.runInProcess("", args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("rotor %s: %v, want an error containing %q", strings.Join(args, " "), err, tt.want)
		}
	}

	var list []clientJSON
	if err := json.Unmarshal([]byte(e.mustRunInProcess("", "clients", "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	want := []clientJSON{
		{ClientID: "native", Public: true, GrantTypes: []string{"authorization_code"}, Audiences: []string{"https://api"},
			RedirectURIs: []string{"com.example.app:/cb"}, PostLogoutRedirectURIs: []string{}},
		{ClientID: "portal", Name: "Schedules portal", FirstParty: true, GrantTypes: []string{"authorization_code", "refresh_token"},
			Audiences:              []string{"https://api"},
			RedirectURIs:           []string{"https://app.example.com/cb", "http://127.0.0.1/cb", "https://app.example.com/cb2"},
			PostLogoutRedirectURIs: []string{"https://app.example.com/"}},
	}
	if d := cmp.Diff(want, list, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".CreatedAt" }, cmp.Ignore())); d != "" {
		t.Errorf("clients list --json (-want +got):\n%s", d)
	}
	table := e.mustRunInProcess("", "clients", "list")
	if !strings.Contains(table, "confidential,first-party") || !strings.Contains(table, "https://app.example.com/cb,http://127.0.0.1/cb") {
		t.Errorf("clients list:\n%s", table)
	}
}

func TestCLIUserProfile(t *testing.T) {
	e := newTestEnv(t)
	const pw = "correct horse battery staple\n"
	user := func(out string) userJSON {
		t.Helper()
		var u userJSON
		if err := json.Unmarshal([]byte(out), &u); err != nil {
			t.Fatalf("%v in %s", err, out)
		}
		return u
	}
	got := user(e.mustRunInProcess(pw, "users", "add", "alice", "--email", "alice@example.com", "--display-name", "Alice Liddell", "--json"))
	if got.Email != "alice@example.com" || got.EmailVerified || got.DisplayName != "Alice Liddell" {
		t.Errorf("users add: %+v", got)
	}
	steps := []struct {
		args                   []string
		email, name            string
		verified               bool
		wantErr, wantErrSubstr string
	}{
		{args: []string{"--email-verified"}, email: "alice@example.com", name: "Alice Liddell", verified: true},
		{args: []string{"--display-name", "Alice L."}, email: "alice@example.com", name: "Alice L.", verified: true},
		{args: []string{"--email", "alice@example.org"}, email: "alice@example.org", name: "Alice L."}, // a new address is unverified
		{args: []string{"--email", "a@example.net", "--email-verified=true"}, email: "a@example.net", name: "Alice L.", verified: true},
		{args: []string{"--email-verified=false", "--display-name", ""}, email: "a@example.net"},
		{args: []string{}, wantErrSubstr: "nothing to update"},
		{args: []string{"--email", "Alice <a@example.com>"}, wantErrSubstr: "plain address"},
		{args: []string{"--display-name", "bell\a"}, wantErrSubstr: "control"},
		{args: []string{"--email-verified=maybe"}, wantErrSubstr: "true or false"},
	}
	for _, st := range steps {
		args := append([]string{"users", "update", "alice", "--json"}, st.args...)
		out, _, err := e.runInProcess("", args...)
		if st.wantErrSubstr != "" {
			if err == nil || !strings.Contains(err.Error(), st.wantErrSubstr) {
				t.Errorf("rotor %s: %v, want an error containing %q", strings.Join(args, " "), err, st.wantErrSubstr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("rotor %s: %v", strings.Join(args, " "), err)
		}
		if u := user(out); u.Email != st.email || u.DisplayName != st.name || u.EmailVerified != st.verified {
			t.Errorf("after %v: %+v, want email %q, name %q, verified %v", st.args, u, st.email, st.name, st.verified)
		}
	}
	if _, _, err := e.runInProcess("", "users", "update", "nobody", "--email", "n@example.com"); err == nil || !strings.Contains(err.Error(), "no user") {
		t.Errorf("updating a missing user: %v", err)
	}
	if _, _, err := e.runInProcess(pw, "users", "add", "bob", "--email", "not an address"); err == nil || !strings.Contains(err.Error(), "plain address") {
		t.Errorf("adding a user with a bad address: %v", err)
	}
	if out := e.mustRunInProcess("", "users", "list"); !strings.Contains(out, "a@example.net (unverified)") {
		t.Errorf("users list:\n%s", out)
	}
}

func TestCLIConsents(t *testing.T) {
	e := newTestEnv(t)
	e.mustRunInProcess("correct horse battery staple\n", "users", "add", "alice")
	for _, id := range []string{"web", "api"} {
		e.addClient(id, "--grant-types", "authorization_code,refresh_token", "--audience", "https://api",
			"--redirect-uris", "https://"+id+".example.com/cb")
	}
	st, err := postgres.Open(t.Context(), e.deploy.Env["ROTOR_DATABASE"])
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	alice, err := st.UserByName(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	granted := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for id, scopes := range map[string][]string{"web": {"openid", "email"}, "api": {"openid"}} {
		if _, err := st.GrantConsent(t.Context(), alice.ID, id, scopes, granted); err != nil {
			t.Fatal(err)
		}
	}
	tok := sha256.Sum256([]byte("a refresh token"))
	fam := idp.Family{ID: "f1", ClientID: "web", Subject: alice.ID, AuthTime: granted, CreatedAt: granted, ExpiresAt: granted.Add(time.Hour)}
	if err := st.CreateFamily(t.Context(), fam, idp.RefreshToken{Hash: tok[:], FamilyID: "f1", IssuedAt: granted}); err != nil {
		t.Fatal(err)
	}

	var list []consentJSON
	if err := json.Unmarshal([]byte(e.mustRunInProcess("", "users", "consents", "alice", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	want := []consentJSON{
		{ClientID: "api", Scopes: []string{"openid"}, GrantedAt: granted},
		{ClientID: "web", Scopes: []string{"email", "openid"}, GrantedAt: granted},
	}
	if d := cmp.Diff(want, list); d != "" {
		t.Errorf("users consents --json (-want +got):\n%s", d)
	}
	if out := e.mustRunInProcess("", "users", "consents", "alice"); !strings.Contains(out, "web     email openid") {
		t.Errorf("users consents:\n%s", out)
	}

	out := e.mustRunInProcess("", "users", "revoke-consent", "alice", "web", "--json")
	if !strings.Contains(out, `"consent_revoked"`) {
		t.Errorf("revoke-consent --json: %s", out)
	}
	state, err := st.LookupRefresh(t.Context(), tok[:])
	if err != nil {
		t.Fatal(err)
	}
	if state.Family.RevokeReason != idp.ReasonConsentRevoked {
		t.Errorf("family after revoke-consent: %+v, want revoked (%s)", state.Family, idp.ReasonConsentRevoked)
	}
	if err := json.Unmarshal([]byte(e.mustRunInProcess("", "users", "consents", "alice", "--json")), &list); err != nil || len(list) != 1 || list[0].ClientID != "api" {
		t.Errorf("consents after revoking web: %+v, %v", list, err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"alice", "web"}, "no consent"},
		{[]string{"nobody", "web"}, "no user"},
		{[]string{"alice"}, "usage"},
	} {
		if _, _, err := e.runInProcess("", append([]string{"users", "revoke-consent"}, tt.args...)...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("revoke-consent %v: %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
	if _, _, err := e.runInProcess("", "users", "consents", "nobody"); err == nil || !strings.Contains(err.Error(), "no user") {
		t.Errorf("consents of a missing user: %v", err)
	}
}

// TestPurgeOnce runs housekeeping on the embedded store: expired families
// and sessions go, and codes once they are CodeRetention past expiry.
func TestPurgeOnce(t *testing.T) {
	st, err := sqlite.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateClient(ctx, idp.Client{ID: "web", SecretHash: []byte{1}, CreatedAt: now}))
	must(st.CreateUser(ctx, idp.User{ID: "u1", Name: "alice", PasswordHash: "h", CreatedAt: now, UpdatedAt: now}))
	hash := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
	must(st.CreateFamily(ctx, idp.Family{ID: "f1", ClientID: "web", Subject: "u1", AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(-time.Second)},
		idp.RefreshToken{Hash: hash("t1"), IssuedAt: now}))
	must(st.CreateSession(ctx, idp.Session{ID: "s1", Hash: hash("s1"), UserID: "u1", AuthTime: now, CreatedAt: now, LastSeenAt: now,
		IdleExpiresAt: now.Add(-time.Second), ExpiresAt: now}))
	for name, expired := range map[string]time.Duration{"old": idp.CodeRetention + time.Second, "recent": idp.CodeRetention - time.Second} {
		must(st.CreateCode(ctx, idp.AuthCode{Hash: hash(name), ClientID: "web", UserID: "u1", CodeChallenge: strings.Repeat("A", 43),
			AuthTime: now, CreatedAt: now.Add(-expired - time.Minute), ExpiresAt: now.Add(-expired)}))
	}

	var logs bytes.Buffer
	purgeOnce(ctx, st, now, slog.New(slog.NewTextHandler(&logs, nil)))
	if _, err := st.LookupRefresh(ctx, hash("t1")); !errors.Is(err, idp.ErrNotFound) {
		t.Errorf("expired family: %v, want it purged", err)
	}
	if n, err := st.PurgeSessions(ctx, now); n != 0 || err != nil {
		t.Errorf("sessions left to purge: %d, %v", n, err)
	}
	if _, err := st.RedeemCode(ctx, hash("old"), "web", now); !errors.Is(err, idp.ErrNotFound) {
		t.Errorf("code expired longer than the retention: %v, want it purged", err)
	}
	if _, err := st.RedeemCode(ctx, hash("recent"), "web", now); !errors.Is(err, idp.ErrCodeExpired) {
		t.Errorf("code within the retention: %v, want it kept (and expired)", err)
	}
	for _, want := range []string{`refresh token families" count=1`, `browser sessions" count=1`, `authorization codes" count=1`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}
