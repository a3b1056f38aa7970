package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/proctest"
	"github.com/rotor-idp/rotor/internal/rotortest"
	"github.com/rotor-idp/rotor/resource"
)

// embedded starts `rotor serve --demo` on the embedded store in dir, as
// `make run` does, and waits until it is ready.
func embedded(t *testing.T, name, dir string) (*proctest.Proc, string) {
	t.Helper()
	bin := proctest.Build(t, "./cmd/rotor")
	p := proctest.Start(t, name, bin, []string{"serve", "--demo", "--data-dir", dir, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"}, "ROTOR_ARGON2_MEMORY=1024", "ROTOR_ARGON2_ITERATIONS=1")
	issuer := p.WaitOutput(t, regexp.MustCompile(`Rotor is running at (\S+)`), 60*time.Second)
	proctest.WaitReady(t, issuer+"/readyz", 30*time.Second)
	return p, issuer
}

func TestMakeRunStartsTheDemo(t *testing.T) {
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^run: build\n\t\$\(BIN\)/rotor serve --demo$`).Match(mk) {
		t.Fatal("make run no longer runs `rotor serve --demo`; update this test and the README together")
	}
}

// TestQuickStart follows the README's quick start as a new user would: a
// fresh data directory, the printed credentials, a token verified through
// the JWKS, and a restart that keeps keys, users and refresh tokens.
func TestQuickStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rotor-data")
	p, issuer := embedded(t, "first start", dir)
	out := p.WaitOutput(t, regexp.MustCompile(`(?s)(client_secret.*Read the public keys)`), 10*time.Second)
	secret := regexp.MustCompile(`client_secret\s+(\S+)`).FindStringSubmatch(out)[1]
	password := regexp.MustCompile(`password\s+(\S+)`).FindStringSubmatch(out)[1]
	if !strings.Contains(p.Output(), "generated a key-encryption key") {
		t.Error("no warning about the generated key-encryption key")
	}
	if fi, err := os.Stat(dir + kekFileSuffix); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key-encryption key file beside the data directory: %v %v", fi, err)
	}
	if entries, err := os.ReadDir(dir); err != nil {
		t.Fatal(err)
	} else {
		for _, e := range entries {
			if strings.Contains(e.Name(), "key-encryption") {
				t.Errorf("%s in the data directory: a copy of it would carry the key to its signing keys", e.Name())
			}
		}
	}

	login, err := rotortest.Token(http.DefaultClient, issuer, "demo", secret, url.Values{"grant_type": {"password"}, "username": {"demo"}, "password": {password}})
	if err != nil || login.Status != http.StatusOK {
		t.Fatalf("token with the printed credentials: %v %+v", err, login)
	}
	verify := func(issuer string) {
		t.Helper()
		v, err := resource.New(resource.Config{Issuer: issuer, Audience: demoAudience})
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := v.Verify(ctx, login.AccessToken); err != nil {
			t.Fatalf("the access token does not verify through the JWKS: %v", err)
		}
	}
	verify(issuer)

	// A second server on the same data directory is refused.
	if _, _, err := runServe(t, dir); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second server on %s: %v", dir, err)
	}

	p.Signal(syscall.SIGTERM)
	if err := p.Wait(t, 30*time.Second); err != nil {
		t.Fatalf("rotor did not stop cleanly: %v", err)
	}
	p2, issuer2 := embedded(t, "restart", dir)
	if strings.Contains(p2.Output(), "rcs_") {
		t.Error("the restart printed the client secret again")
	}
	if strings.Contains(p2.Output(), "generated a key-encryption key") {
		t.Error("the restart generated a new key-encryption key")
	}
	if issuer2 != issuer {
		// The default listen address is fixed in make run, but this test
		// listens on port 0, so the issuer may differ; the keys must not.
		t.Logf("issuer changed from %s to %s (port 0)", issuer, issuer2)
	}
	issuer = issuer2
	v, err := resource.New(resource.Config{Issuer: issuer, Audience: demoAudience})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The old token names the old issuer when the port changed, so check its
	// signature against the restarted server's JWKS.
	kids := (&rotortest.Replica{URL: issuer}).JWKSKids(t)
	if kid := rotortest.KID(t, login.AccessToken); !contains(kids, kid) {
		t.Fatalf("after the restart the JWKS %v lacks the key %s that signed the token", kids, kid)
	}
	refreshed, err := rotortest.Token(http.DefaultClient, issuer, "demo", secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {login.RefreshToken}})
	if err != nil || refreshed.Status != http.StatusOK {
		t.Fatalf("refresh token after the restart: %v %+v", err, refreshed)
	}
	if _, err := v.Verify(ctx, refreshed.AccessToken); err != nil {
		t.Fatalf("token after the restart does not verify: %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// runServe runs serve in-process on dir; it returns when serve fails or after
// a short while if it does not.
func runServe(t *testing.T, dir string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	env := map[string]string{"ROTOR_LISTEN": "127.0.0.1:0", "ROTOR_METRICS_LISTEN": "127.0.0.1:0", "ROTOR_DATA_DIR": dir}
	err := run(ctx, append([]string{"serve"}, args...), func(k string) string { return env[k] }, strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestEmbeddedStoreRefusesBrokenDataDirectories(t *testing.T) {
	// A data directory with keys, made by a first start.
	good := filepath.Join(t.TempDir(), "data")
	p, _ := embedded(t, "setup", good)
	p.Signal(syscall.SIGTERM)
	if err := p.Wait(t, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	copyDir := func(t *testing.T) string {
		dst := filepath.Join(t.TempDir(), "data")
		if err := os.MkdirAll(dst, 0o700); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(good)
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(good, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		kek, err := os.ReadFile(good + kekFileSuffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+kekFileSuffix, kek, 0o600); err != nil {
			t.Fatal(err)
		}
		return dst
	}

	t.Run("missing key-encryption key file", func(t *testing.T) {
		dir := copyDir(t)
		os.Remove(dir + kekFileSuffix)
		before := fileHash(t, filepath.Join(dir, "rotor.db"))
		_, _, err := runServe(t, dir)
		if err == nil || !strings.Contains(err.Error(), dir+kekFileSuffix) || !strings.Contains(err.Error(), "missing") {
			t.Fatalf("err = %v", err)
		}
		if _, err := os.Stat(dir + kekFileSuffix); err == nil {
			t.Error("a new key-encryption key file was written over the loss")
		}
		if fileHash(t, filepath.Join(dir, "rotor.db")) != before {
			t.Error("rotor.db changed")
		}
	})
	t.Run("wrong key-encryption key file", func(t *testing.T) {
		dir := copyDir(t)
		if err := os.WriteFile(dir+kekFileSuffix, []byte(rotortest.NewKEK()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		before := fileHash(t, filepath.Join(dir, "rotor.db"))
		if _, _, err := runServe(t, dir); err == nil || !strings.Contains(err.Error(), "key-encryption key") {
			t.Fatalf("err = %v", err)
		}
		if fileHash(t, filepath.Join(dir, "rotor.db")) != before {
			t.Error("rotor.db changed")
		}
	})
	t.Run("corrupt database", func(t *testing.T) {
		dir := copyDir(t)
		db := filepath.Join(dir, "rotor.db")
		if err := os.WriteFile(db, bytes.Repeat([]byte("not a database "), 1000), 0o600); err != nil {
			t.Fatal(err)
		}
		before := fileHash(t, db)
		_, _, err := runServe(t, dir)
		if err == nil || !strings.Contains(err.Error(), db) {
			t.Fatalf("err = %v, want one naming %s", err, db)
		}
		if fileHash(t, db) != before {
			t.Error("the corrupt file was overwritten")
		}
	})
	t.Run("data directory is a file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := runServe(t, path); err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("err = %v", err)
		}
	})
}
