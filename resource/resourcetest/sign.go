package resourcetest

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
)

// Sign builds a compact JWS (RFC 7515 §7.1) of header and payload, JSON
// encoded, signed with k by k's own algorithm whatever the header says, so
// tests can also build mislabelled tokens.
func Sign(k *Key, header, payload map[string]any) string {
	h, err := json.Marshal(header)
	if err != nil {
		panic(err)
	}
	p, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	return SignRaw(k, h, p)
}

// SignRaw signs the given header and payload bytes with k.
func SignRaw(k *Key, header, payload []byte) string {
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	var sig []byte
	var err error
	switch priv := k.Signer.(type) {
	case *rsa.PrivateKey:
		sum := sha256.Sum256([]byte(input))
		sig, err = rsa.SignPKCS1v15(nil, priv, crypto.SHA256, sum[:])
	case ed25519.PrivateKey:
		sig = ed25519.Sign(priv, []byte(input))
	default:
		err = fmt.Errorf("unsupported key %T", priv)
	}
	if err != nil {
		panic("resourcetest: " + err.Error())
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of an RSA or Ed25519
// public key, base64url: Rotor's kid.
func Thumbprint(pub crypto.PublicKey) string {
	m := thumbprintMembers(pub)
	// RFC 7638 §3: required members only, lexicographic order, no whitespace.
	// encoding/json sorts map keys, and the values need no escaping.
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func thumbprintMembers(pub crypto.PublicKey) map[string]any {
	b64 := base64.RawURLEncoding.EncodeToString
	switch p := pub.(type) {
	case *rsa.PublicKey:
		e := []byte{byte(p.E >> 16), byte(p.E >> 8), byte(p.E)}
		e = e[len(e)-minBytes(p.E):]
		return map[string]any{"kty": "RSA", "n": b64(p.N.Bytes()), "e": b64(e)}
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(p)}
	}
	panic(fmt.Sprintf("resourcetest: unsupported public key %T", pub))
}

func minBytes(e int) int {
	switch {
	case e >= 1<<16:
		return 3
	case e >= 1<<8:
		return 2
	}
	return 1
}

var keyPool struct {
	mu   sync.Mutex
	keys map[string][]*Key
}

// pooledKey returns the i-th process-wide key for alg, generating it on first
// use.
func pooledKey(alg string, i int) *Key {
	keyPool.mu.Lock()
	defer keyPool.mu.Unlock()
	if keyPool.keys == nil {
		keyPool.keys = map[string][]*Key{}
	}
	for len(keyPool.keys[alg]) <= i {
		keyPool.keys[alg] = append(keyPool.keys[alg], generate(alg))
	}
	return keyPool.keys[alg][i]
}

func generate(alg string) *Key {
	var signer crypto.Signer
	switch strings.ToUpper(alg) {
	case "RS256":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		signer = k
	case "EDDSA":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		signer = k
	default:
		panic("resourcetest: unsupported algorithm " + alg)
	}
	return &Key{ID: Thumbprint(signer.Public()), Alg: alg, Signer: signer}
}
