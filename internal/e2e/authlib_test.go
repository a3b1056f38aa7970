package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/internal/rotortest"
)

func authlibReady() bool {
	return exec.Command(debianPython, "-c", "import authlib.integrations.requests_client, authlib.oauth2.rfc7523").Run() == nil
}

// TestAuthlibPrivateKeyJWT: a client nobody here wrote, Authlib's
// PrivateKeyJWT, authenticates with its RSA key at the token endpoint of a
// live Rotor that holds only the public half; Authlib's default one-hour
// assertion is refused (Rotor takes five minutes at most).
func TestAuthlibPrivateKeyJWT(t *testing.T) {
	requireEnv(t, authlibReady(), debianPython+" with python3-authlib")
	d := rotortest.New(t, pgtest.NewDatabase(t))
	dir := t.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	pemFile := filepath.Join(dir, "worker.pem")
	if err := os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	pub, _ := jwk.Import(&key.PublicKey)
	_ = pub.Set(jwk.AlgorithmKey, jwa.RS256())
	set := jwk.NewSet()
	_ = set.AddKey(pub)
	raw, _ := json.Marshal(set)
	jwksFile := filepath.Join(dir, "worker.jwks")
	if err := os.WriteFile(jwksFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	out := d.MustRunBinary("", "clients", "add", "worker", "--grant-types", "client_credentials", "--scopes", "jobs:run",
		"--audience", "https://jobs.example", "--auth-method", "private_key_jwt", "--jwks-file", jwksFile)
	if strings.Contains(out, "client_secret") {
		t.Fatalf("a private_key_jwt client got a secret: %s", out)
	}
	rotor := d.Serve("rotor")

	run := func(lifetime string) map[string]any {
		cmd := exec.Command(debianPython, repoPath(t, "examples/python/private_key_jwt.py"))
		cmd.Env = append(os.Environ(), "ROTOR_TOKEN_ENDPOINT="+rotor.URL+"/oauth2/token", "ROTOR_CLIENT_ID=worker",
			"ROTOR_PRIVATE_KEY_FILE="+pemFile, "ROTOR_ASSERTION_LIFETIME="+lifetime, "ROTOR_SCOPE=jobs:run", "PYTHONDONTWRITEBYTECODE=1")
		b, _ := cmd.Output()
		var resp map[string]any
		if err := json.Unmarshal(b, &resp); err != nil {
			t.Fatalf("authlib client printed %q: %v", b, err)
		}
		return resp
	}
	tok := run("60")
	if tok["token_type"] != "Bearer" || tok["access_token"] == nil || tok["scope"] != "jobs:run" {
		t.Fatalf("authlib token response: %v", tok)
	}
	if resp := run("0"); resp["error"] != "invalid_client" {
		t.Errorf("Authlib's default one-hour assertion: %v, want invalid_client", resp)
	}
}
