package keys

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"unsafe"
)

// tokenType is the JWS "typ" of Rotor's access tokens (RFC 9068 §2.1). RFC
// 7515 §4.1.9 lets the "application/" prefix be omitted, and Rotor does.
const tokenType = "at+jwt"

// SigningKey is the current private key of a lane, ready to sign. It is
// immutable and safe for concurrent use. It never reveals the private key:
// String, GoString, Format, MarshalJSON and LogValue show the kid and alg
// only, and the key itself sits behind a pointer so that printing a struct
// that holds a SigningKey by value shows an address, not key bytes.
type SigningKey struct {
	KID string
	Alg Alg

	priv    *privateKey
	pub     crypto.PublicKey
	prefix  []byte // base64url(header) + "."
	sigSize int
}

// privateKey holds exactly one of the two; a struct rather than an interface
// so that signing dispatches without a type switch on crypto.Signer. Both
// are pointers, two hops from SigningKey: fmt follows one pointer when it
// prints a field with a verb it cannot apply to pointers (%s of a struct
// holding one), never two, so no printing path reaches the key bytes.
type privateKey struct {
	ed  *ed25519.PrivateKey
	rsa *rsa.PrivateKey
}

// header is the protected header of every token, in the member order Rotor
// writes (RFC 7515 §4.1: alg, kid; RFC 9068 §2.1: typ).
type header struct {
	Alg Alg    `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

func newSigningKey(kid string, alg Alg, s crypto.Signer) (*SigningKey, error) {
	h, err := json.Marshal(header{Alg: alg, Kid: kid, Typ: tokenType})
	if err != nil {
		return nil, err
	}
	k := &SigningKey{KID: kid, Alg: alg, priv: &privateKey{}, pub: s.Public()}
	switch p := s.(type) {
	case ed25519.PrivateKey:
		k.priv.ed, k.sigSize = &p, ed25519.SignatureSize
	case *rsa.PrivateKey:
		k.priv.rsa, k.sigSize = p, p.Size()
	default:
		return nil, fmt.Errorf("keys: cannot sign with %T", s)
	}
	k.prefix = append(base64.RawURLEncoding.AppendEncode(nil, h), '.')
	return k, nil
}

// Sign returns the compact serialization (RFC 7515 §7.1) of a JWS over
// payload with the header {"alg":…,"kid":…,"typ":"at+jwt"}. payload is the
// JWT claims set, already JSON-encoded.
func (k *SigningKey) Sign(payload []byte) (string, error) {
	b, err := k.AppendSign(nil, payload)
	if err != nil {
		return "", err
	}
	// b is ours alone and never written again, so it can back the string
	// without a copy (as strings.Builder does).
	return unsafe.String(unsafe.SliceData(b), len(b)), nil
}

// AppendSign appends the compact JWS of payload to dst and returns the
// extended buffer; with a reused dst it signs without allocating beyond what
// the signature primitive itself needs.
func (k *SigningKey) AppendSign(dst, payload []byte) ([]byte, error) {
	enc := base64.RawURLEncoding
	dst = slices.Grow(dst, len(k.prefix)+enc.EncodedLen(len(payload))+1+enc.EncodedLen(k.sigSize))
	start := len(dst)
	dst = append(dst, k.prefix...)
	dst = enc.AppendEncode(dst, payload)
	input := dst[start:] // the JWS Signing Input, RFC 7515 §5.1 step 5
	var sig []byte
	if k.priv.ed != nil {
		// RFC 8037 §3.1: Ed25519 signs the JWS Signing Input itself.
		sig = ed25519.Sign(*k.priv.ed, input)
	} else {
		// RFC 7518 §3.3: RSASSA-PKCS1-v1_5 over SHA-256 of the input. The
		// scheme is deterministic and crypto/rsa ignores the random
		// source, so nil it is.
		digest := sha256.Sum256(input)
		var err error
		sig, err = rsa.SignPKCS1v15(nil, k.priv.rsa, crypto.SHA256, digest[:])
		if err != nil {
			return dst[:start], fmt.Errorf("keys: signing with %s: %w", k.KID, err)
		}
	}
	dst = append(dst, '.')
	return enc.AppendEncode(dst, sig), nil
}

// Public is the public key of the signing key.
func (k *SigningKey) Public() crypto.PublicKey { return k.pub }

func (k *SigningKey) redacted() string {
	if k == nil {
		return "SigningKey(nil)"
	}
	return "SigningKey(" + string(k.Alg) + " " + k.KID + "; private key redacted)"
}

// String shows the kid and alg only.
func (k *SigningKey) String() string { return k.redacted() }

// GoString shows the kid and alg only.
func (k *SigningKey) GoString() string { return k.redacted() }

// Format shows the kid and alg only, whatever the verb.
func (k *SigningKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.redacted())) }

// MarshalJSON shows the kid and alg only.
func (k *SigningKey) MarshalJSON() ([]byte, error) {
	if k == nil {
		return []byte("null"), nil
	}
	return json.Marshal(struct {
		KID string `json:"kid"`
		Alg Alg    `json:"alg"`
	}{k.KID, k.Alg})
}

// LogValue shows the kid and alg only.
func (k *SigningKey) LogValue() slog.Value {
	if k == nil {
		return slog.StringValue("SigningKey(nil)")
	}
	return slog.GroupValue(slog.String("kid", k.KID), slog.String("alg", string(k.Alg)))
}

// Format hides private key material even if a privateKey is reached some
// other way than through its SigningKey.
func (p *privateKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[private key redacted]")) }

var (
	_ fmt.Formatter  = (*SigningKey)(nil)
	_ fmt.Stringer   = (*SigningKey)(nil)
	_ fmt.GoStringer = (*SigningKey)(nil)
	_ json.Marshaler = (*SigningKey)(nil)
	_ slog.LogValuer = (*SigningKey)(nil)
)
