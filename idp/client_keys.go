package idp

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/rotor-idp/rotor/internal/jws"
)

// Client keys for private_key_jwt (RFC 7523 §2.2, OIDC Core §9): Rotor keeps
// only public keys, each pinned to one algorithm.

// AssertionAlgs are the algorithms a client's keys may be registered with.
var AssertionAlgs = []string{"RS256", "PS256", "ES256", "EdDSA"}

const maxClientKeys = 10

// privateMembers are the JWK members of private and symmetric keys (RFC 7518
// §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// ParseClientJWKS checks a client's JWKS and returns it normalised: public
// keys only (a private member anywhere is refused, since Rotor must never
// hold a client's private key), at most ten, each RSA (2048 to 4096 bits),
// P-256 or Ed25519 with its algorithm set, RS256, PS256, ES256 or EdDSA. An
// RSA key must name its algorithm; EC and OKP keys get theirs from the curve.
func ParseClientJWKS(raw []byte) (string, error) {
	var probe struct {
		Keys []map[string]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return "", errors.New("the JWKS is not a JSON object with a keys array")
	}
	if len(probe.Keys) == 0 || len(probe.Keys) > maxClientKeys {
		return "", fmt.Errorf("the JWKS must hold 1 to %d keys", maxClientKeys)
	}
	for i, k := range probe.Keys {
		for _, m := range privateMembers {
			if _, ok := k[m]; ok {
				return "", fmt.Errorf("key %d has the private member %q: register public keys only, and treat this private key as exposed", i, m)
			}
		}
	}
	set, err := jwk.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("the JWKS does not parse: %w", err)
	}
	out := jwk.NewSet()
	for i := range set.Len() {
		k, _ := set.Key(i)
		alg, err := keyAlg(k)
		if err != nil {
			return "", fmt.Errorf("key %d: %w", i, err)
		}
		_ = k.Set(jwk.AlgorithmKey, alg)
		if err := out.AddKey(k); err != nil {
			return "", fmt.Errorf("key %d: %w", i, err)
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// keyAlg checks that k is a public key fit for its algorithm and returns
// the algorithm.
func keyAlg(k jwk.Key) (jwa.SignatureAlgorithm, error) {
	var raw any
	if err := jwk.Export(k, &raw); err != nil {
		return jwa.EmptySignatureAlgorithm(), errors.New("unusable key")
	}
	declared := ""
	if a, ok := k.Algorithm(); ok {
		declared = a.String()
	}
	var alg string
	switch pk := raw.(type) {
	case *rsa.PublicKey:
		if pk.N.BitLen() < jws.MinRSABits || pk.N.BitLen() > jws.MaxRSABits {
			return jwa.EmptySignatureAlgorithm(), errors.New("RSA keys must have 2048 to 4096 bits")
		}
		if declared != "RS256" && declared != "PS256" {
			return jwa.EmptySignatureAlgorithm(), errors.New(`an RSA key must declare "alg": "RS256" or "PS256"`)
		}
		alg = declared
	case *ecdsa.PublicKey:
		if pk.Curve != elliptic.P256() {
			return jwa.EmptySignatureAlgorithm(), errors.New("EC keys must be on P-256 (ES256)")
		}
		alg = "ES256"
	case ed25519.PublicKey:
		alg = "EdDSA"
	default:
		return jwa.EmptySignatureAlgorithm(), errors.New("only RSA, EC P-256 and Ed25519 public keys are accepted")
	}
	if declared != "" && declared != alg {
		return jwa.EmptySignatureAlgorithm(), fmt.Errorf("alg %q does not fit the key", declared)
	}
	a, _ := jwa.LookupSignatureAlgorithm(alg)
	return a, nil
}

// clientKey is one registered key, decoded for verification.
type clientKey struct {
	alg, kid string
	key      *jws.JWK
}

// clientKeySets caches decoded client key sets by their JSON, so that an
// assertion does not decode the client's JWKS again.
type clientKeySets struct {
	mu   sync.Mutex
	sets map[string][]clientKey
}

func (c *clientKeySets) get(raw string) ([]clientKey, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.sets[raw]; ok {
		return s, nil
	}
	s, err := decodeClientKeys(raw)
	if err != nil {
		return nil, err
	}
	if c.sets == nil || len(c.sets) >= 1024 {
		c.sets = make(map[string][]clientKey) // bounded: start over
	}
	c.sets[raw] = s
	return s, nil
}

// decodeClientKeys decodes a JWKS that ParseClientJWKS normalised. A key
// the strict decoder refuses is left out: it can verify nothing.
func decodeClientKeys(raw string) ([]clientKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal([]byte(raw), &set); err != nil {
		return nil, err
	}
	keys := make([]clientKey, 0, len(set.Keys))
	for _, m := range set.Keys {
		var meta struct {
			Alg string `json:"alg"`
			Kid string `json:"kid"`
		}
		if json.Unmarshal(m, &meta) != nil || !validAssertionAlg(meta.Alg) {
			continue
		}
		k, err := jws.ParseJWK(m)
		if err != nil {
			continue
		}
		keys = append(keys, clientKey{alg: meta.Alg, kid: meta.Kid, key: k})
	}
	return keys, nil
}

func validAssertionAlg(a string) bool { return slices.Contains(AssertionAlgs, a) }
