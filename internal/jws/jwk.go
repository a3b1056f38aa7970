package jws

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	_ "crypto/sha512" // SHA-384 and SHA-512 for ES384, RS512, ...
	"encoding/base64"
	"math/big"
	"unsafe"
)

// JWK is a public key read from a JSON Web Key (RFC 7517): a DPoP proof's
// jwk header (RFC 9449 §4.2) or a client's registered key. It is decoded
// straight into a crypto key with the strict JOSE parser, and its RFC 7638
// SHA-256 thumbprint computed from the canonical members. It is immutable
// and safe for concurrent use.
type JWK struct {
	ec  *ecdsa.PublicKey
	ed  ed25519.PublicKey
	rsa *rsa.PublicKey
	jkt string
}

// jwkMembers are the members of a jwk that Rotor reads, as sent.
type jwkMembers struct {
	kty, crv, x, y, n, e string
}

// ParseJWK decodes a public EC (P-256, P-384, P-521), OKP (Ed25519) or RSA
// (MinRSABits to MaxRSABits) key. Any private or symmetric member, a
// repeated member or a member of the wrong type is refused with ErrJWK;
// members other than kty, crv, x, y, n and e are ignored.
func ParseJWK(b []byte) (*JWK, error) {
	var m jwkMembers
	ok := Walk(b, func(name, v []byte) bool {
		var dst *string
		switch string(name) {
		case "kty":
			dst = &m.kty
		case "crv":
			dst = &m.crv
		case "x":
			dst = &m.x
		case "y":
			dst = &m.y
		case "n":
			dst = &m.n
		case "e":
			dst = &m.e
		case "d", "p", "q", "dp", "dq", "qi", "oth", "k":
			return false // RFC 9449 §4.3 item 7: never a private key
		default:
			return true
		}
		s, ok := Unquote(v)
		*dst = s
		return ok
	})
	if !ok {
		return nil, ErrJWK
	}
	switch m.kty {
	case "EC":
		return ecKey(m)
	case "OKP":
		return okpKey(m)
	case "RSA":
		return rsaKey(m)
	}
	return nil, ErrJWK // "oct" and anything else
}

// curves are the EC curves a proof key may use, with their field size in
// bytes (RFC 7518 §6.2.1.2: coordinates are exactly that long).
var curves = map[string]struct {
	curve elliptic.Curve
	size  int
}{
	"P-256": {elliptic.P256(), 32},
	"P-384": {elliptic.P384(), 48},
	"P-521": {elliptic.P521(), 66},
}

func ecKey(m jwkMembers) (*JWK, error) {
	c, ok := curves[m.crv]
	if !ok || len(m.x) != EncodedLen(c.size) || len(m.y) != EncodedLen(c.size) {
		return nil, ErrJWK
	}
	var pt [1 + 2*66]byte
	pt[0] = 4 // SEC 1 §2.3.3, uncompressed
	nx, okx := Decode(pt[1:], m.x)
	ny, oky := Decode(pt[1+c.size:], m.y)
	if !okx || !oky || nx != c.size || ny != c.size {
		return nil, ErrJWK
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(c.curve, pt[:1+2*c.size]) // on the curve, not infinity
	if err != nil {
		return nil, ErrJWK
	}
	jkt := thumbprint(`{"crv":"`, m.crv, `","kty":"EC","x":"`, m.x, `","y":"`, m.y, `"}`)
	return &JWK{ec: pub, jkt: jkt}, nil
}

func okpKey(m jwkMembers) (*JWK, error) {
	if m.crv != "Ed25519" || len(m.x) != EncodedLen(ed25519.PublicKeySize) {
		return nil, ErrJWK
	}
	pub := make(ed25519.PublicKey, ed25519.PublicKeySize)
	if n, ok := Decode(pub, m.x); !ok || n != ed25519.PublicKeySize {
		return nil, ErrJWK
	}
	return &JWK{ed: pub, jkt: thumbprint(`{"crv":"Ed25519","kty":"OKP","x":"`, m.x, `"}`)}, nil
}

func rsaKey(m jwkMembers) (*JWK, error) {
	nb, ok1 := decodeUint(m.n, MaxRSABits/8+1)
	eb, ok2 := decodeUint(m.e, 4)
	if !ok1 || !ok2 || len(eb) == 0 {
		return nil, ErrJWK
	}
	e := 0
	for _, c := range eb {
		e = e<<8 | int(c)
	}
	n := new(big.Int).SetBytes(nb)
	if n.BitLen() < MinRSABits || n.BitLen() > MaxRSABits || e < 3 || e&1 == 0 || e > 1<<31-1 {
		return nil, ErrJWK
	}
	// RFC 7638 §3.2 hashes the minimal encodings (RFC 7518 §6.3.1): a
	// value sent with leading zero octets is re-encoded.
	jkt := thumbprint(`{"e":"`, base64.RawURLEncoding.EncodeToString(eb), `","kty":"RSA","n":"`, base64.RawURLEncoding.EncodeToString(nb), `"}`)
	return &JWK{rsa: &rsa.PublicKey{N: n, E: e}, jkt: jkt}, nil
}

// decodeUint decodes a base64url unsigned integer of at most max octets
// after its leading zero octets, which it drops.
func decodeUint(s string, max int) ([]byte, bool) {
	n := DecodedLen(len(s))
	if n <= 0 || n > max+8 {
		return nil, false
	}
	b := make([]byte, n)
	if _, ok := Decode(b, s); !ok {
		return nil, false
	}
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	return b, len(b) <= max
}

// thumbprint is the base64url SHA-256 of the concatenated parts, which
// spell the key's RFC 7638 canonical JSON.
func thumbprint(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0]))
}

// Thumbprint is the key's RFC 7638 SHA-256 thumbprint, base64url: a DPoP
// jkt (RFC 9449 §6.1).
func (k *JWK) Thumbprint() string { return k.jkt }

// Verify checks sig over the JWS signing input for alg (RFC 7518 §3.3-3.5,
// RFC 8037 §3.1). The key must be of alg's kind, and for ECDSA on alg's
// curve.
func (k *JWK) Verify(alg, input string, sig []byte) bool {
	switch alg {
	case "EdDSA":
		return k.ed != nil && len(sig) == ed25519.SignatureSize && ed25519.Verify(k.ed, bytesOf(input), sig)
	case "ES256":
		return k.verifyEC(elliptic.P256(), crypto.SHA256, input, sig)
	case "ES384":
		return k.verifyEC(elliptic.P384(), crypto.SHA384, input, sig)
	case "ES512":
		return k.verifyEC(elliptic.P521(), crypto.SHA512, input, sig)
	}
	if k.rsa == nil || len(alg) != 5 || len(sig) != k.rsa.Size() {
		return false
	}
	var h crypto.Hash
	switch alg[2:] {
	case "256":
		h = crypto.SHA256
	case "384":
		h = crypto.SHA384
	case "512":
		h = crypto.SHA512
	default:
		return false
	}
	digest := hashOf(h, input)
	switch alg[:2] {
	case "RS":
		return rsa.VerifyPKCS1v15(k.rsa, h, digest, sig) == nil
	case "PS":
		return rsa.VerifyPSS(k.rsa, h, digest, sig, nil) == nil
	}
	return false
}

// verifyEC checks a JWS ECDSA signature, R and S as fixed-size big-endian
// octets (RFC 7518 §3.4).
func (k *JWK) verifyEC(curve elliptic.Curve, h crypto.Hash, input string, sig []byte) bool {
	if k.ec == nil || k.ec.Curve != curve {
		return false
	}
	size := (curve.Params().BitSize + 7) / 8
	if len(sig) != 2*size {
		return false
	}
	r := new(big.Int).SetBytes(sig[:size])
	s := new(big.Int).SetBytes(sig[size:])
	return ecdsa.Verify(k.ec, hashOf(h, input), r, s)
}

func hashOf(h crypto.Hash, input string) []byte {
	w := h.New()
	w.Write(bytesOf(input))
	return w.Sum(nil)
}

// bytesOf is input's bytes without a copy, for functions that only read
// their message (hashes, ed25519.Verify): a signing input is most of a JWS.
func bytesOf(input string) []byte {
	return unsafe.Slice(unsafe.StringData(input), len(input))
}
