package keys

import (
	"fmt"
	"slices"
	"strings"
)

// Alg is a JWS signing algorithm (RFC 7518 §3.1, RFC 8037 §3.1). Each enabled
// algorithm has its own lane of keys.
type Alg string

// The algorithms Rotor signs with.
const (
	RS256 Alg = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256, RSA-2048 keys
	EdDSA Alg = "EdDSA" // Ed25519 (RFC 8037)
)

// algs is the one list of supported algorithms; Algs hands out copies.
var algs = []Alg{RS256, EdDSA}

// Algs returns every algorithm Rotor can sign with, in the order
// configuration help and errors list them.
func Algs() []Alg { return slices.Clone(algs) }

// Valid reports whether a is an algorithm Rotor signs with.
func (a Alg) Valid() bool { return slices.Contains(algs, a) }

// ParseAlg parses an algorithm name as it appears in configuration and in a
// JWS "alg" header (RFC 7515 §4.1.1: case-sensitive).
func ParseAlg(s string) (Alg, error) {
	if a := Alg(s); a.Valid() {
		return a, nil
	}
	return "", fmt.Errorf("keys: unsupported signing algorithm %q (want %s)", s, algList())
}

// algList is "RS256 or EdDSA", "A, B or C", … for messages.
func algList() string {
	names := make([]string, len(algs))
	for i, a := range algs {
		names[i] = string(a)
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
