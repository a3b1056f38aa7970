package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rotor-idp/rotor/internal/rotortest"
)

// TestHardenedClientsEndToEnd runs the client and credential findings of
// the security review against the rotor binary on Postgres, with clients
// and users made by the CLI: introspection needs --introspect, revocation
// answers 200 for a.b.c, a disabled user's refresh token dies, unrouted
// answers are not cacheable, and the CLI refuses a public password client
// and a client ID shaped like a user ID.
func TestHardenedClientsEndToEnd(t *testing.T) {
	e := newTestEnv(t)
	web := e.addClient("web", "--grant-types", "password,refresh_token", "--scopes", "read", "--audience", "https://api")
	svc := e.addClient("svc", "--scopes", "read", "--audience", "https://api")
	rs := e.addClient("rs", "--scopes", "read", "--audience", "https://api", "--introspect")
	e.mustRunInProcess("correct horse battery staple\n", "users", "add", "alice")
	r := e.deploy.Serve("replica")

	login, err := rotortest.Token(http.DefaultClient, r.URL, "web", web, url.Values{
		"grant_type": {"password"}, "username": {"alice"}, "password": {"correct horse battery staple"}})
	if err != nil || login.Status != http.StatusOK {
		t.Fatalf("password grant: %v %+v", err, login)
	}
	post := func(path, id, secret string, form url.Values) (int, http.Header, string) {
		req, err := http.NewRequest(http.MethodPost, r.URL+path, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	active := func(id, secret, tok string) bool {
		_, _, body := post("/oauth2/introspect", id, secret, url.Values{"token": {tok}})
		var v struct {
			Active bool `json:"active"`
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("introspect: %s", body)
		}
		return v.Active
	}
	if active("svc", svc, login.AccessToken) {
		t.Error("svc, without --introspect, learned about alice's token")
	}
	if !active("rs", rs, login.AccessToken) {
		t.Error("rs, with --introspect, was told alice's token is inactive")
	}
	if status, _, body := post("/oauth2/revoke", "web", web, url.Values{"token": {"a.b.c"}}); status != http.StatusOK {
		t.Errorf("revoke a.b.c: %d %s", status, body)
	}

	e.mustRunInProcess("", "users", "disable", "alice")
	refreshed, err := rotortest.Token(http.DefaultClient, r.URL, "web", web, url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {login.RefreshToken}})
	if err != nil || refreshed.Status != http.StatusBadRequest || refreshed.Error != "invalid_grant" {
		t.Errorf("refresh after the disable: %v %+v", err, refreshed)
	}

	resp, err := http.Get(r.URL + "/no-such-page")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("404: %d %v", resp.StatusCode, resp.Header)
	}

	if _, _, err := e.runInProcess("", "clients", "add", "spa", "--public", "--grant-types", "password", "--audience", "https://api"); err == nil ||
		!strings.Contains(err.Error(), "allow-public-password") {
		t.Errorf("public password client: %v", err)
	}
	var users []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(e.mustRunInProcess("", "users", "list", "--json")), &users); err != nil || len(users) != 1 {
		t.Fatalf("users list: %v %v", err, users)
	}
	if _, _, err := e.runInProcess("", "clients", "add", users[0].ID, "--audience", "https://api"); err == nil || !strings.Contains(err.Error(), "user ID") {
		t.Errorf("client named like alice's ID: %v", err)
	}
	out := e.mustRunInProcess("", "clients", "list", "--json")
	if !strings.Contains(out, `"introspect": true`) && !strings.Contains(out, `"introspect":true`) {
		t.Errorf("clients list does not show rs's permission: %s", out)
	}
}
