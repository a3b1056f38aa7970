package keys

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// JWTType is the JWS "typ" of the tokens Rotor signs that are not access
// tokens: OpenID Connect ID tokens (RFC 7519 §5.1 recommends "JWT"). A
// resource server that checks typ at+jwt (RFC 9068 §4) refuses them, and
// VerifyJWT refuses access tokens, so the two never stand in for each other
// (RFC 8725 §3.11).
const JWTType = "JWT"

// AppendSignJWT appends the compact JWS of payload with the header
// {"alg":…,"kid":…,"typ":"JWT"} to dst, as AppendSign does for access
// tokens.
func (k *SigningKey) AppendSignJWT(dst, payload []byte) ([]byte, error) {
	h, err := json.Marshal(header{Alg: k.Alg, Kid: k.KID, Typ: JWTType})
	if err != nil {
		return dst, err
	}
	enc := base64.RawURLEncoding
	dst = slices.Grow(dst, enc.EncodedLen(len(h))+1+enc.EncodedLen(len(payload))+1+enc.EncodedLen(k.sigSize))
	start := len(dst)
	dst = enc.AppendEncode(dst, h)
	dst = append(dst, '.')
	dst = enc.AppendEncode(dst, payload)
	sig, err := k.signInput(dst[start:])
	if err != nil {
		return dst[:start], err
	}
	dst = append(dst, '.')
	return enc.AppendEncode(dst, sig), nil
}

// signInput signs a JWS Signing Input (RFC 7515 §5.1 step 5) with the key's
// algorithm: Ed25519 over the input itself (RFC 8037 §3.1), RSASSA-PKCS1-v1_5
// over its SHA-256 (RFC 7518 §3.3).
func (k *SigningKey) signInput(input []byte) ([]byte, error) {
	if k.priv.ed != nil {
		return ed25519.Sign(*k.priv.ed, input), nil
	}
	digest := sha256.Sum256(input)
	sig, err := rsa.SignPKCS1v15(nil, k.priv.rsa, crypto.SHA256, digest[:])
	if err != nil {
		return nil, fmt.Errorf("keys: signing with %s: %w", k.KID, err)
	}
	return sig, nil
}

// VerifyJWT checks a compact JWS that Rotor signed with typ JWT (an ID
// token) against the published keys, with the rules of Verify but for the
// type: typ must be exactly "JWT", so an access token is refused. The
// payload's claims, expiry included, are the caller's to check: an ID token
// presented as a logout hint is accepted after it expired (OpenID Connect
// RP-Initiated Logout 1.0 §2). A key that is no longer published (revoked,
// or retired past its retention) verifies nothing.
func (s *Snapshot) VerifyJWT(token string, now time.Time) (payload []byte, kid string, err error) {
	if len(token) > maxTokenLen {
		return nil, "", fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, maxTokenLen)
	}
	h, rest, ok1 := strings.Cut(token, ".")
	p, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(sig, ".") {
		return nil, "", fmt.Errorf("%w: not a compact JWS", ErrInvalidToken)
	}
	hdr, err := decodeJWTHeader(h)
	if err != nil {
		return nil, "", err
	}
	key := s.keys[hdr.Kid]
	switch {
	case hdr.Typ != JWTType:
		return nil, "", fmt.Errorf("%w: typ is not %s", ErrInvalidToken, JWTType)
	case hdr.Kid == "" || key == nil:
		return nil, "", fmt.Errorf("%w: kid is not published", ErrInvalidToken)
	case hdr.Alg != key.alg:
		return nil, hdr.Kid, fmt.Errorf("%w: alg does not match key %s (%s)", ErrInvalidToken, hdr.Kid, key.alg)
	case !key.expires.IsZero() && !now.Before(key.expires):
		return nil, hdr.Kid, fmt.Errorf("%w: key %s was retired and its tokens have expired", ErrInvalidToken, hdr.Kid)
	}
	sb, err := b64.DecodeString(sig)
	if err != nil {
		return nil, hdr.Kid, fmt.Errorf("%w: signature is not base64url", ErrInvalidToken)
	}
	input := []byte(token[:len(h)+1+len(p)])
	ok := false
	switch pub := key.pub.(type) {
	case ed25519.PublicKey:
		ok = ed25519.Verify(pub, input, sb)
	case *rsa.PublicKey:
		digest := sha256.Sum256(input)
		ok = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sb) == nil
	}
	if !ok {
		return nil, hdr.Kid, fmt.Errorf("%w: bad signature", ErrInvalidToken)
	}
	if payload, err = b64.DecodeString(p); err != nil {
		return nil, hdr.Kid, fmt.Errorf("%w: payload is not base64url", ErrInvalidToken)
	}
	return payload, hdr.Kid, nil
}

// decodeJWTHeader reads the protected header of a token VerifyJWT checks.
// Only the members Rotor writes may appear, each once, spelled exactly as
// Rotor spells them (encoding/json would match "ALG" to alg and keep the
// last of two "alg"s): anything else is not a token Rotor signed.
func decodeJWTHeader(seg string) (header, error) {
	raw, err := b64.DecodeString(seg)
	if err != nil {
		return header{}, fmt.Errorf("%w: header is not base64url", ErrInvalidToken)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return header{}, fmt.Errorf("%w: header is not a JSON object", ErrInvalidToken)
	}
	var h header
	seen := map[string]bool{}
	for dec.More() {
		name, err := dec.Token()
		key, isString := name.(string)
		if err != nil || !isString || seen[key] {
			return header{}, fmt.Errorf("%w: malformed or repeated header member", ErrInvalidToken)
		}
		seen[key] = true
		var v string
		if err := dec.Decode(&v); err != nil {
			return header{}, fmt.Errorf("%w: header member is not a string", ErrInvalidToken)
		}
		switch key {
		case "alg":
			h.Alg = Alg(v)
		case "kid":
			h.Kid = v
		case "typ":
			h.Typ = v
		default:
			return header{}, fmt.Errorf("%w: unexpected header member", ErrInvalidToken)
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') || dec.More() {
		return header{}, fmt.Errorf("%w: header is not a JSON object", ErrInvalidToken)
	}
	if _, err := dec.Token(); err == nil {
		return header{}, fmt.Errorf("%w: header is not one JSON object", ErrInvalidToken)
	}
	return h, nil
}
