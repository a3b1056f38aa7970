package keys

import (
	"crypto/hkdf"
	"crypto/sha256"
)

// prkSalt separates the keys DeriveKeys makes from any other use of a KEK
// (RFC 5869 §3.1: a salt fixed by the application is fine).
const prkSalt = "rotor-kek-derive:v1"

// extractPRK is HKDF-Extract (RFC 5869 §2.2) of a key-encryption key. Only
// the PRK is kept for derivation: a one-way function of the KEK that opens
// no signing key.
func extractPRK(raw []byte) *[32]byte {
	prk, err := hkdf.Extract(sha256.New, raw, []byte(prkSalt))
	if err != nil || len(prk) != 32 {
		panic("keys: HKDF-Extract failed") // cannot happen with SHA-256
	}
	out := new([32]byte)
	copy(out[:], prk)
	clear(prk)
	return out
}

// DeriveKeys returns one 32-byte key per configured key-encryption key,
// primary first, each HKDF-Expand (RFC 5869 §2.3) of that KEK's PRK with
// label as the info. Every replica configured with the same KEKs derives
// the same keys, so a MAC made by one (with the first key) verifies on
// another (with any of them), and keeps verifying while a KEK rotation is
// rolled out. Different labels give independent keys; none of them reveals
// the KEK. The caller must not log or return them.
func (s *KEKSet) DeriveKeys(label string) [][]byte {
	if s == nil {
		return nil
	}
	out := make([][]byte, 0, len(s.keks))
	for _, k := range s.keks {
		key, err := hkdf.Expand(sha256.New, k.prk[:], label, 32)
		if err != nil {
			panic("keys: HKDF-Expand failed") // cannot happen for 32 bytes
		}
		out = append(out, key)
	}
	return out
}
