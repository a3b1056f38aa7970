package resource

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"math/big"
	"slices"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/rotor-idp/rotor/internal/jws"
)

// Algorithms the verifier implements (RFC 7518 §3.3, RFC 8037 §3.1).
const (
	RS256 = jws.RS256
	EdDSA = jws.EdDSA
)

// RSA modulus bounds: RFC 7518 §3.3 requires 2048 bits or more; the upper
// bound keeps the cost of one verification bounded.
const (
	minRSABits = jws.MinRSABits
	maxRSABits = jws.MaxRSABits
)

// verifyKey is one usable public key from the JWKS, immutable once built. Its
// pointer identity says "this exact key": a verified-token cache entry stays
// valid only while the current snapshot maps its kid to the same pointer.
type verifyKey struct {
	kid string
	key *jws.Key
}

func (k *verifyKey) equal(o *verifyKey) bool { return k.kid == o.kid && k.key.Equal(o.key) }

// snapshot is an immutable key set. The request path reads it through an
// atomic.Pointer and never locks.
type snapshot struct {
	keys    map[string]*verifyKey
	fetched time.Time // last successful fetch: a 200 with usable keys, or a 304
}

// usable reports whether the snapshot may be used at now: it exists and is no
// older than maxStale.
func (s *snapshot) usable(now time.Time, maxStale time.Duration) bool {
	return s != nil && now.Sub(s.fetched) <= maxStale
}

// Reasons a JWK is ignored; logged as counts, never with key material.
const (
	skipNotObject = "not a JSON object"
	skipPrivate   = "has private key members"
	skipNoKID     = "no kid"
	skipUse       = "not a signature key"
	skipKty       = "unsupported kty or crv"
	skipAlg       = "unsupported alg"
	skipEncoding  = "bad key encoding"
	skipRSASize   = "RSA modulus outside 2048-4096 bits"
	skipDupKID    = "duplicate kid"
)

var errNoUsableKeys = errors.New("no usable signing keys in JWKS")
var errNotJWKS = errors.New("response is not a JWK set")

// parseKeySet parses a JWK Set (RFC 7517 §5). Entries that are not usable
// signature keys are skipped and counted in skipped, so one odd entry cannot
// take the whole set down; a set with no usable key is an error, so it never
// replaces a good one.
//
// Membership checks (kid, use, key_ops, alg, private members) read the JSON
// directly, with exact member names; the key material itself is decoded by
// jwx (jwk.ParseKey, jwk.Export), off the request path.
func parseKeySet(body []byte) (keys map[string]*verifyKey, skipped map[string]int, err error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, errNotJWKS
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(doc["keys"], &entries); err != nil || entries == nil {
		return nil, nil, errNotJWKS
	}
	keys = map[string]*verifyKey{}
	skipped = map[string]int{}
	dup := map[string]bool{}
	for _, raw := range entries {
		k, reason := parseJWK(raw)
		if k == nil {
			skipped[reason]++
			continue
		}
		if _, seen := keys[k.kid]; seen || dup[k.kid] {
			// RFC 7517 §4.5: a kid selects one key. Two keys under one kid
			// are ambiguous, so neither is used.
			if seen {
				skipped[skipDupKID]++ // the first holder of the kid
			}
			skipped[skipDupKID]++
			delete(keys, k.kid)
			dup[k.kid] = true
			continue
		}
		keys[k.kid] = k
	}
	if len(keys) == 0 {
		return nil, skipped, errNoUsableKeys
	}
	return keys, skipped, nil
}

// privateMembers are the JWK members of private or symmetric keys (RFC 7518
// §6.3.2, §6.4.1, RFC 8037 §2). A public JWKS must not carry them.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// parseJWK turns one JWK (RFC 7517 §4) into a verification key, or returns why
// it is not usable.
func parseJWK(raw json.RawMessage) (*verifyKey, string) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, skipNotObject
	}
	for _, name := range privateMembers {
		if _, ok := m[name]; ok {
			return nil, skipPrivate
		}
	}
	str := func(name string) (string, bool) {
		var s string
		v, ok := m[name]
		if !ok || json.Unmarshal(v, &s) != nil {
			return "", false
		}
		return s, true
	}
	kid, _ := str("kid")
	if kid == "" {
		return nil, skipNoKID
	}
	// RFC 7517 §4.2, §4.3: a key meant for encryption, or whose key_ops do
	// not include verify, must not verify signatures.
	if _, ok := m["use"]; ok {
		if use, _ := str("use"); use != "sig" {
			return nil, skipUse
		}
	}
	if ops, ok := m["key_ops"]; ok {
		var list []string
		if json.Unmarshal(ops, &list) != nil || !slices.Contains(list, "verify") {
			return nil, skipUse
		}
	}
	alg, hasAlg := str("alg")
	if _, ok := m["alg"]; ok && !hasAlg {
		return nil, skipAlg
	}
	kty, _ := str("kty")
	var keyAlg string
	switch kty {
	case "RSA":
		keyAlg = RS256
	case "OKP":
		// OKP also covers X25519 and Ed448, which cannot verify EdDSA
		// signatures here (RFC 8037 §2, §3.1).
		if crv, _ := str("crv"); crv != "Ed25519" {
			return nil, skipKty
		}
		keyAlg = EdDSA
	default:
		return nil, skipKty
	}
	// RFC 8725 §3.1: the JWK's alg, when present, must be the one its key
	// is used with.
	if hasAlg && alg != keyAlg {
		return nil, skipAlg
	}
	if keyAlg == RS256 {
		// Checked here too, so the skip reason is right: jwx refuses
		// small moduli itself.
		switch bits := modulusBits(m); {
		case bits == 0:
			return nil, skipEncoding
		case bits < minRSABits || bits > maxRSABits:
			return nil, skipRSASize
		}
	}
	key, err := jwk.ParseKey(raw)
	if err != nil {
		return nil, skipEncoding
	}
	var pub any
	if err := jwk.Export(key, &pub); err != nil {
		return nil, skipEncoding
	}
	if p, ok := pub.(*rsa.PublicKey); ok {
		if bits := p.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return nil, skipRSASize
		}
	}
	// NewKey refuses a key of the wrong type for keyAlg, a bad exponent
	// and a short Ed25519 key.
	vk, err := jws.NewKey(keyAlg, pub)
	if err != nil {
		return nil, skipEncoding
	}
	return &verifyKey{kid: kid, key: vk}, ""
}

// modulusBits returns the bit length of an RSA JWK's n (RFC 7518 §6.3.1.1),
// or 0 if it does not decode.
func modulusBits(m map[string]json.RawMessage) int {
	var n string
	if json.Unmarshal(m["n"], &n) != nil {
		return 0
	}
	size := jws.DecodedLen(len(n))
	if size <= 0 {
		return 0
	}
	buf := make([]byte, size)
	size, ok := jws.Decode(buf, n)
	if !ok {
		return 0
	}
	return new(big.Int).SetBytes(buf[:size]).BitLen()
}
