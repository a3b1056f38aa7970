package jwstest

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"testing"
	"time"
)

// Key is a signing key: one the verifier under test trusts, or the
// attacker's.
type Key struct {
	KID    string
	Alg    string // "RS256" or "EdDSA"
	Signer crypto.Signer
}

var b64 = base64.RawURLEncoding.EncodeToString

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Sign builds a compact JWS (RFC 7515 §7.1) of header and payload, JSON
// encoded, signed with k by k's own algorithm whatever the header says.
func Sign(k *Key, header, payload map[string]any) string {
	return SignRaw(k, mustJSON(header), mustJSON(payload))
}

// SignRaw signs the given header and payload bytes with k.
func SignRaw(k *Key, header, payload []byte) string {
	return SignSegments(k, b64(header), b64(payload))
}

// SignSegments signs the given header and payload segments with k as they
// are, so that a test can sign segments no encoder would write.
func SignSegments(k *Key, header, payload string) string {
	input := header + "." + payload
	return input + "." + b64(signature(k, input))
}

func signature(k *Key, input string) []byte {
	switch priv := k.Signer.(type) {
	case *rsa.PrivateKey:
		sum := sha256.Sum256([]byte(input))
		sig, err := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, sum[:])
		if err != nil {
			panic(err)
		}
		return sig
	case ed25519.PrivateKey:
		return ed25519.Sign(priv, []byte(input))
	}
	panic(fmt.Sprintf("jwstest: cannot sign with %T", k.Signer))
}

// publicJWK is k's public key as a JWK (RFC 7517 §4, RFC 7518 §6.3.1, RFC
// 8037 §2).
func publicJWK(k *Key) map[string]any {
	m := map[string]any{"kid": k.KID, "alg": k.Alg, "use": "sig"}
	switch pub := k.Signer.Public().(type) {
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64(pub.N.Bytes()), b64(big.NewInt(int64(pub.E)).Bytes())
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64(pub)
	}
	return m
}

// selfSignedCert is a base64 DER certificate for k, as an x5c entry (RFC
// 7515 §4.1.6).
func selfSignedCert(t testing.TB, k *Key) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "attacker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Signer.Public(), k.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}
