package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCLIClientKeys(t *testing.T) {
	e := newTestEnv(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pub := write("pub.json", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`)
	priv := write("priv.json", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}]}`)
	rotated := write("rotated.json", `{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`)

	out := e.mustRunInProcess("", "clients", "add", "worker", "--audience", "https://a", "--auth-method", "private_key_jwt",
		"--jwks-file", pub, "--require-dpop", "--json")
	if strings.Contains(out, "client_secret") {
		t.Errorf("a private_key_jwt client got a secret: %s", out)
	}
	if _, _, err := e.runInProcess("", "clients", "add", "leaky", "--audience", "a", "--auth-method", "private_key_jwt", "--jwks-file", priv); err == nil ||
		!strings.Contains(err.Error(), `private member "d"`) {
		t.Errorf("a JWKS with a private key: %v, want a refusal naming the member", err)
	}
	for _, bad := range [][]string{
		{"clients", "add", "x", "--audience", "a", "--auth-method", "private_key_jwt"},
		{"clients", "add", "x", "--audience", "a", "--jwks-file", pub},
		{"clients", "add", "x", "--audience", "a", "--auth-method", "client_secret_jwt", "--jwks-file", pub},
		{"clients", "set-keys", "worker"},
		{"clients", "set-keys", "nobody", "--jwks-file", rotated},
		{"clients", "set-keys", "worker", "--jwks-file", priv},
	} {
		if _, _, err := e.runInProcess("", bad...); err == nil {
			t.Errorf("rotor %s succeeded", strings.Join(bad, " "))
		}
	}
	e.mustRunInProcess("", "clients", "set-keys", "worker", "--jwks-file", rotated)
	list := e.mustRunInProcess("", "clients", "list", "--json")
	if !strings.Contains(list, `"token_endpoint_auth_method": "private_key_jwt"`) || !strings.Contains(list, `"dpop_bound_access_tokens": true`) {
		t.Errorf("clients list: %s", list)
	}
}

func TestCLIClientKeysURI(t *testing.T) {
	e := newTestEnv(t)
	pub := filepath.Join(t.TempDir(), "pub.json")
	if err := os.WriteFile(pub, []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	const uri = "https://worker.example/jwks.json"
	out := e.mustRunInProcess("", "clients", "add", "fetched", "--audience", "https://a", "--auth-method", "private_key_jwt", "--jwks-uri", uri, "--json")
	if strings.Contains(out, "client_secret") {
		t.Errorf("a private_key_jwt client got a secret: %s", out)
	}
	if list := e.mustRunInProcess("", "clients", "list", "--json"); !strings.Contains(list, `"jwks_uri": "`+uri+`"`) {
		t.Errorf("clients list lacks the jwks_uri: %s", list)
	}
	for _, bad := range [][]string{
		{"clients", "add", "x", "--audience", "a", "--auth-method", "private_key_jwt", "--jwks-uri", "http://worker.example/jwks.json"},
		{"clients", "add", "x", "--audience", "a", "--auth-method", "private_key_jwt", "--jwks-uri", uri, "--jwks-file", pub},
		{"clients", "add", "x", "--audience", "a", "--jwks-uri", uri},
		{"clients", "set-keys", "fetched", "--jwks-uri", uri, "--jwks-file", pub},
		{"clients", "set-keys", "fetched", "--jwks-uri", "http://worker.example/jwks.json"},
		{"clients", "set-keys", "nobody", "--jwks-uri", uri},
	} {
		if _, _, err := e.runInProcess("", bad...); err == nil {
			t.Errorf("rotor %s succeeded", strings.Join(bad, " "))
		}
	}
	if _, _, err := e.runInProcess("", "clients", "add", "plain", "--audience", "a", "--auth-method", "private_key_jwt", "--jwks-uri", "http://worker.example/k"); err == nil ||
		!strings.Contains(err.Error(), "https") {
		t.Errorf("plain http jwks_uri: %v, want a refusal naming https", err)
	}
	// From a URL to a file and back.
	e.mustRunInProcess("", "clients", "set-keys", "fetched", "--jwks-file", pub)
	if list := e.mustRunInProcess("", "clients", "list", "--json"); strings.Contains(list, `"jwks_uri"`) {
		t.Errorf("the jwks_uri survived set-keys --jwks-file: %s", list)
	}
	const next = "https://worker.example/next.json"
	e.mustRunInProcess("", "clients", "set-keys", "fetched", "--jwks-uri", next)
	if list := e.mustRunInProcess("", "clients", "list", "--json"); !strings.Contains(list, `"jwks_uri": "`+next+`"`) {
		t.Errorf("set-keys --jwks-uri not listed: %s", list)
	}
}
