package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/proctest"
)

// TestIssuerMustBeHTTPSOffLoopback: checkIssuer's comment always said
// "http only for loopback", and it accepted http for any host. An http
// issuer elsewhere now needs --insecure-http.
func TestIssuerMustBeHTTPSOffLoopback(t *testing.T) {
	tests := []struct {
		issuer   string
		insecure bool
		wantErr  string
	}{
		{"https://id.example.com", false, ""},
		{"https://id.example.com/tenant", false, ""},
		{"http://localhost:8080", false, ""},
		{"http://LOCALHOST:8080", false, ""},
		{"http://127.0.0.1:8080", false, ""},
		{"http://127.8.9.10", false, ""},
		{"http://[::1]:8080", false, ""},
		{"http://id.example.com", false, "--insecure-http"},
		{"http://10.0.0.5:8080", false, "--insecure-http"},
		{"http://rotor:8080", false, "--insecure-http"},
		{"http://localhost.example.com", false, "--insecure-http"},
		{"http://[::ffff:10.0.0.1]", false, "--insecure-http"},
		{"http://id.example.com", true, ""},
		{"ftp://id.example.com", true, "absolute http(s) URL"},
		{"https://id.example.com?x=1", false, "query"},
	}
	for _, tt := range tests {
		t.Run(tt.issuer, func(t *testing.T) {
			err := checkIssuer(tt.issuer, tt.insecure)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("checkIssuer(%q, %v): %v", tt.issuer, tt.insecure, err)
			case tt.wantErr != "":
				var ue usageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("checkIssuer(%q, %v): %v, want a usage error about %q", tt.issuer, tt.insecure, err, tt.wantErr)
				}
			}
		})
	}
}

// TestServeTLS: with --tls-cert and --tls-key Rotor serves https itself,
// and the default issuer is https.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	bin := proctest.Build(t, "./cmd/rotor")
	p := proctest.Start(t, "tls", bin, []string{"serve", "--demo", "--data-dir", filepath.Join(dir, "data"),
		"--listen", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile},
		"ROTOR_ARGON2_MEMORY=1024", "ROTOR_ARGON2_ITERATIONS=1")
	running := p.WaitOutput(t, regexp.MustCompile(`Rotor is running at (\S+)`), 60*time.Second)
	if !strings.HasPrefix(running, "https://") {
		t.Fatalf("running at %s, want https", running)
	}
	u, _ := strings.CutSuffix(running, "/demo/")
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	var meta struct {
		Issuer string `json:"issuer"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := c.Get(u + "/.well-known/openid-configuration")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&meta)
			resp.Body.Close()
		}
		if err == nil || time.Now().After(deadline) {
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.HasPrefix(meta.Issuer, "https://") {
		t.Errorf("issuer %q, want the https default", meta.Issuer)
	}
	// Plain http to the TLS port gets nowhere.
	resp, err := http.Get("http://" + strings.TrimPrefix(u, "https://") + "/healthz")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain http answered 200: %s", body)
		}
	}

	t.Run("one without the other", func(t *testing.T) {
		_, _, err := runServe(t, filepath.Join(dir, "other"), "--tls-cert", certFile)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--tls-key") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a key that is not the certificate's", func(t *testing.T) {
		_, otherKey, _ := selfSigned(t, t.TempDir())
		_, _, err := runServe(t, filepath.Join(dir, "other"), "--tls-cert", certFile, "--tls-key", otherKey)
		if err == nil || !strings.Contains(err.Error(), "--tls-cert") || strings.Contains(err.Error(), "PRIVATE KEY") {
			t.Fatalf("err = %v", err)
		}
	})
}

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rotor test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}
