package jws

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Algorithms Verify implements (RFC 7518 §3.3, RFC 8037 §3.1).
const (
	RS256 = "RS256"
	EdDSA = "EdDSA"
)

// RSA modulus bounds: RFC 7518 §3.3 requires 2048 bits or more; the upper
// bound keeps the cost of one verification, and Verify's stack buffer for the
// signature, bounded.
const (
	MinRSABits = 2048
	MaxRSABits = 4096
)

// Key is a public key that verifies one algorithm's signatures. It is
// immutable and safe for concurrent use.
type Key struct {
	alg    string
	rsa    *rsa.PublicKey
	ed     ed25519.PublicKey
	sigB64 int // length of a base64url signature made by this key
}

// NewKey returns a verification key for alg: an *rsa.PublicKey of
// MinRSABits to MaxRSABits with an odd exponent of at least 3 for RS256, an
// ed25519.PublicKey for EdDSA. The key decides the algorithm (RFC 8725 §3.1):
// Verify accepts only tokens whose alg is the key's.
func NewKey(alg string, pub crypto.PublicKey) (*Key, error) {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if alg != RS256 {
			break
		}
		if p.N == nil || p.N.BitLen() < MinRSABits || p.N.BitLen() > MaxRSABits {
			return nil, fmt.Errorf("jws: RSA modulus must have %d to %d bits", MinRSABits, MaxRSABits)
		}
		if p.E < 3 || p.E&1 == 0 {
			return nil, errors.New("jws: bad RSA exponent")
		}
		return &Key{alg: RS256, rsa: p, sigB64: EncodedLen(p.Size())}, nil
	case ed25519.PublicKey:
		if alg != EdDSA {
			break
		}
		if len(p) != ed25519.PublicKeySize {
			return nil, errors.New("jws: bad Ed25519 public key")
		}
		return &Key{alg: EdDSA, ed: p, sigB64: EncodedLen(ed25519.SignatureSize)}, nil
	}
	return nil, fmt.Errorf("jws: a %T cannot verify %q", pub, alg)
}

// Alg is the algorithm the key verifies.
func (k *Key) Alg() string { return k.alg }

// Public returns the public key.
func (k *Key) Public() crypto.PublicKey {
	if k.rsa != nil {
		return k.rsa
	}
	return k.ed
}

// Equal reports whether o is the same algorithm and public key.
func (k *Key) Equal(o *Key) bool {
	if k.alg != o.alg {
		return false
	}
	if k.rsa != nil {
		return o.rsa != nil && k.rsa.Equal(o.rsa)
	}
	return k.ed.Equal(o.ed)
}

// verify checks sig over the JWS Signing Input (RFC 7515 §5.2 step 8).
func (k *Key) verify(input string, sig []byte) bool {
	msg := bytesOf(input)
	if k.rsa != nil {
		// RFC 7518 §3.3: RSASSA-PKCS1-v1_5 with SHA-256.
		sum := sha256.Sum256(msg)
		return rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, sum[:], sig) == nil
	}
	// RFC 8037 §3.1: Ed25519 over the input itself.
	return len(sig) == ed25519.SignatureSize && ed25519.Verify(k.ed, msg, sig)
}
