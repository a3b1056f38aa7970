package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCLIClients(t *testing.T) {
	e := newTestEnv(t)
	secret := e.addClient("web", "--grant-types", "password,refresh_token", "--scopes", "read write", "--audience", "https://a,https://b", "--token-alg", "EdDSA")
	if !strings.HasPrefix(secret, "rcs_") || len(secret) < 40 {
		t.Fatalf("secret %q", secret)
	}
	if out := e.mustRunInProcess("", "clients", "add", "spa", "--public", "--allow-public-password", "--grant-types", "password", "--audience", "https://a", "--json"); strings.Contains(out, "client_secret") {
		t.Errorf("public client got a secret: %s", out)
	}
	if _, _, err := e.runInProcess("", "clients", "add", "web", "--audience", "x"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate client: %v", err)
	}
	for _, bad := range [][]string{
		{"clients", "add", "x", "--grant-types", "implicit", "--audience", "a"},
		{"clients", "add", "x", "--public", "--grant-types", "client_credentials", "--audience", "a"},
		{"clients", "add", "x"},
		{"clients", "add", "x y", "--audience", "a"},
		{"clients", "add", "x", "--audience", "a", "--token-alg", "HS256"},
	} {
		if _, _, err := e.runInProcess("", bad...); err == nil {
			t.Errorf("rotor %s succeeded", strings.Join(bad, " "))
		}
	}

	out := e.mustRunInProcess("", "clients", "list", "--json")
	if strings.Contains(out, secret) || strings.Contains(out, "secret") {
		t.Errorf("clients list shows secret material: %s", out)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[1]["client_id"] != "web" || list[1]["token_alg"] != "EdDSA" ||
		cmp.Diff([]any{"https://a", "https://b"}, list[1]["audiences"]) != "" {
		t.Errorf("clients list: %s", out)
	}
	e.mustRunInProcess("", "clients", "delete", "spa")
	if _, _, err := e.runInProcess("", "clients", "delete", "spa"); err == nil || !strings.Contains(err.Error(), "no client") {
		t.Errorf("deleting a missing client: %v", err)
	}
}

func TestCLIUsers(t *testing.T) {
	e := newTestEnv(t)
	e.mustRunInProcess("correct horse battery staple\n", "users", "add", "alice")
	if _, _, err := e.runInProcess("", "users", "add", "bob"); err == nil || !strings.Contains(err.Error(), "stdin") {
		t.Errorf("no password on stdin: %v", err)
	}
	if _, _, err := e.runInProcess("short\n", "users", "add", "bob"); err == nil || !strings.Contains(err.Error(), "shorter") {
		t.Errorf("short password: %v", err)
	}
	if _, _, err := e.runInProcess("another fine password", "users", "add", "alice"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate user: %v", err)
	}
	e.mustRunInProcess("", "users", "disable", "alice")
	e.mustRunInProcess("a different password\r\n", "users", "set-password", "alice")
	if _, _, err := e.runInProcess("a different password", "users", "set-password", "nobody"); err == nil || !strings.Contains(err.Error(), "no user") {
		t.Errorf("set-password of a missing user: %v", err)
	}
	out := e.mustRunInProcess("", "users", "list", "--json")
	if strings.Contains(out, "argon2") || strings.Contains(out, "password") {
		t.Errorf("users list shows password material: %s", out)
	}
	var users []map[string]any
	if err := json.Unmarshal([]byte(out), &users); err != nil || len(users) != 1 || users[0]["name"] != "alice" || users[0]["disabled"] != true {
		t.Errorf("users list: %s (%v)", out, err)
	}
}

func TestCLIKeys(t *testing.T) {
	e := newTestEnv(t)
	e.mustRunInProcess("", "keys", "rotate", "--force") // creates the ring, then rotates every lane
	out := e.mustRunInProcess("", "keys", "list", "--json")
	for _, private := range []string{`"d"`, `"p"`, `"sealed"`, "PRIVATE", e.deploy.Env["ROTOR_KEY_ENCRYPTION_KEYS"][5:]} {
		if strings.Contains(out, private) {
			t.Errorf("keys list --json contains %s", private)
		}
	}
	states := map[string]int{}
	for _, k := range e.keys() {
		states[k.Alg+" "+k.State]++
	}
	want := map[string]int{"RS256 current": 1, "RS256 next": 1, "RS256 retired": 1, "EdDSA current": 1, "EdDSA next": 1, "EdDSA retired": 1}
	if diff := cmp.Diff(want, states); diff != "" {
		t.Errorf("key states (-want +got):\n%s", diff)
	}

	cur := e.keyIn("EdDSA", "current")
	next := e.keyIn("EdDSA", "next")
	e.mustRunInProcess("", "keys", "revoke", "--", cur.KID)
	if got := e.keyIn("EdDSA", "current"); got.KID != next.KID {
		t.Errorf("after revoking the current key, %s is current, want the next key %s", got.KID, next.KID)
	}
	if _, _, err := e.runInProcess("", "keys", "revoke", "no-such-kid"); err == nil {
		t.Error("revoking an unknown kid succeeded")
	}

	kek := e.mustRunInProcess("", "keys", "new-kek")
	if !strings.Contains(kek, ":") || len(strings.TrimSpace(kek)) < 40 {
		t.Errorf("new-kek printed %q", kek)
	}
	// KEK rotation: a new primary, the old one kept to open, rewrap, then
	// the old one can go.
	e.deploy.Env["ROTOR_KEY_ENCRYPTION_KEYS"] = strings.TrimSpace(kek) + "," + e.deploy.Env["ROTOR_KEY_ENCRYPTION_KEYS"]
	e.mustRunInProcess("", "keys", "rewrap")
	e.deploy.Env["ROTOR_KEY_ENCRYPTION_KEYS"] = strings.TrimSpace(kek)
	e.mustRunInProcess("", "keys", "rotate", "--force", "--alg", "EdDSA")
}
