package keys

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// rsaBits is the RSA modulus size for RS256. RFC 7518 §3.3 requires at least
// 2048 bits.
const rsaBits = 2048

// Generate makes a new key pair for alg and returns it as a Record in state
// next, created at now: the public JWK in clear, the PKCS #8 private key sealed
// under the primary KEK. The plaintext private key does not outlive the call.
func Generate(alg Alg, keks *KEKSet, now time.Time) (Record, error) {
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return Record{}, fmt.Errorf("keys: unsupported signing algorithm %q", alg)
	}
	if err != nil {
		return Record{}, fmt.Errorf("keys: generating %s key: %w", alg, err)
	}
	pub := priv.Public()
	kid, err := Thumbprint(pub)
	if err != nil {
		return Record{}, err
	}
	jwkJSON, err := marshalPublicJWK(alg, kid, pub)
	if err != nil {
		return Record{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return Record{}, fmt.Errorf("keys: encoding %s key %s: %w", alg, kid, err)
	}
	sealed, kekID, err := keks.seal(kid, der)
	clear(der)
	if err != nil {
		return Record{}, err
	}
	return Record{
		KID:       kid,
		Alg:       alg,
		State:     StateNext,
		PublicJWK: jwkJSON,
		Sealed:    sealed,
		KEKID:     kekID,
		CreatedAt: now,
	}, nil
}

// Thumbprint returns the RFC 7638 JWK thumbprint of an RSA or Ed25519 public
// key: SHA-256 over the required members in lexicographic order (§3.2; for
// OKP keys RFC 8037 §2 names them crv, kty, x), base64url without padding.
// Rotor uses it as the kid, so a kid names exactly one public key and every
// replica derives the same one.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	k, err := jwk.Import(pub)
	if err != nil {
		return "", fmt.Errorf("keys: importing public key: %w", err)
	}
	sum, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("keys: computing thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// publicJWK is the published form of a key: public members only (RFC 7517
// §4, RFC 7518 §6.3.1, RFC 8037 §2), with "use": "sig" and "alg" so resource
// servers can refuse a key for any other purpose or algorithm. The field
// order is fixed, which makes JWKS bytes reproducible on every replica.
type publicJWK struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg Alg    `json:"alg"`
	Kid string `json:"kid"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
}

func marshalPublicJWK(alg Alg, kid string, pub crypto.PublicKey) ([]byte, error) {
	j := publicJWK{Use: "sig", Alg: alg, Kid: kid}
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if alg != RS256 {
			return nil, fmt.Errorf("keys: RSA key cannot be used with %s", alg)
		}
		j.Kty = "RSA"
		// RFC 7518 §6.3.1: base64url of the unsigned big-endian value in
		// its minimal octets.
		j.N = base64.RawURLEncoding.EncodeToString(p.N.Bytes())
		j.E = base64.RawURLEncoding.EncodeToString(big.NewInt(int64(p.E)).Bytes())
	case ed25519.PublicKey:
		if alg != EdDSA {
			return nil, fmt.Errorf("keys: Ed25519 key cannot be used with %s", alg)
		}
		j.Kty, j.Crv = "OKP", "Ed25519"
		j.X = base64.RawURLEncoding.EncodeToString(p)
	default:
		return nil, fmt.Errorf("keys: unsupported public key type %T", pub)
	}
	return json.Marshal(j)
}

// parsePublicJWK reads a stored public JWK strictly: any member other than the
// public ones (a private "d", say) is refused rather than republished, the
// kty/crv must fit alg, and the kid must be the thumbprint of the key.
func parsePublicJWK(rec Record) (crypto.PublicKey, []byte, error) {
	var j publicJWK
	dec := json.NewDecoder(bytes.NewReader(rec.PublicJWK))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, nil, fmt.Errorf("keys: public JWK of %s is not a public %s key: %w", rec.KID, rec.Alg, err)
	}
	var pub crypto.PublicKey
	switch {
	case rec.Alg == RS256 && j.Kty == "RSA" && j.Crv == "" && j.X == "":
		n, err := base64.RawURLEncoding.DecodeString(j.N)
		if err != nil {
			return nil, nil, fmt.Errorf("keys: public JWK of %s: bad n: %w", rec.KID, err)
		}
		e, err := base64.RawURLEncoding.DecodeString(j.E)
		if err != nil || len(e) == 0 || len(e) > 4 {
			return nil, nil, fmt.Errorf("keys: public JWK of %s: bad e", rec.KID)
		}
		ei := new(big.Int).SetBytes(e)
		p := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(ei.Int64())}
		if p.N.BitLen() < rsaBits || p.E < 3 || p.E%2 == 0 {
			return nil, nil, fmt.Errorf("keys: public JWK of %s: RSA key too small or bad exponent", rec.KID)
		}
		pub = p
	case rec.Alg == EdDSA && j.Kty == "OKP" && j.Crv == "Ed25519" && j.N == "" && j.E == "":
		x, err := base64.RawURLEncoding.DecodeString(j.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, nil, fmt.Errorf("keys: public JWK of %s: bad x", rec.KID)
		}
		pub = ed25519.PublicKey(x)
	default:
		return nil, nil, fmt.Errorf("keys: public JWK of %s does not fit its lane %s (kty %q, crv %q)", rec.KID, rec.Alg, j.Kty, j.Crv)
	}
	if j.Alg != rec.Alg || j.Use != "sig" || j.Kid != rec.KID {
		return nil, nil, fmt.Errorf("keys: public JWK of %s has alg %q, use %q, kid %q; want %s, sig, %s", rec.KID, j.Alg, j.Use, j.Kid, rec.Alg, rec.KID)
	}
	kid, err := Thumbprint(pub)
	if err != nil {
		return nil, nil, err
	}
	if kid != rec.KID {
		return nil, nil, fmt.Errorf("keys: kid %s is not the thumbprint of its public key (%s)", rec.KID, kid)
	}
	// Re-marshal so that what is published is byte-for-byte what Rotor
	// writes, whatever the store did to the JSON (jsonb reorders members).
	canon, err := marshalPublicJWK(rec.Alg, rec.KID, pub)
	if err != nil {
		return nil, nil, err
	}
	return pub, canon, nil
}

// openPrivate decrypts and parses a record's private key and checks that it
// belongs to the record's public key.
func openPrivate(rec Record, keks *KEKSet, pub crypto.PublicKey) (crypto.Signer, error) {
	der, err := keks.open(rec.KID, rec.KEKID, rec.Sealed)
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		// The x509 error text describes structure, never key bytes.
		return nil, fmt.Errorf("keys: signing key %s: decrypted but not a PKCS #8 key: %w", rec.KID, err)
	}
	var signer crypto.Signer
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if rec.Alg != RS256 {
			break
		}
		// Precompute the CRT values once here so that every signature
		// takes the fast path; the parser usually has already.
		k.Precompute()
		if err := k.Validate(); err != nil {
			return nil, fmt.Errorf("keys: signing key %s: invalid RSA key", rec.KID)
		}
		signer = k
	case ed25519.PrivateKey:
		if rec.Alg == EdDSA {
			signer = k
		}
	}
	if signer == nil {
		return nil, fmt.Errorf("keys: signing key %s: private key type %T does not fit lane %s", rec.KID, key, rec.Alg)
	}
	if eq, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(pub) {
		return nil, fmt.Errorf("keys: signing key %s: private key does not match the published public key", rec.KID)
	}
	return signer, nil
}
