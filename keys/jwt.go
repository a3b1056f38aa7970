package keys

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rotor-idp/rotor/internal/jws"
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
// token) against the published keys, with the rules of Verify (the same
// strict split, base64url and header parsing of internal/jws; no crit; the
// key decides the algorithm) but for the type: typ must be exactly "JWT", so
// an access token is refused. The payload's claims, expiry included, are the
// caller's to check: an ID token presented as a logout hint is accepted after
// it expired (OpenID Connect RP-Initiated Logout 1.0 §2). A key that is no
// longer published (revoked, or retired past its retention) verifies
// nothing.
func (s *Snapshot) VerifyJWT(token string, now time.Time) (payload []byte, kid string, err error) {
	fail := func(reason error) ([]byte, string, error) {
		return nil, kid, fmt.Errorf("%w: %w", ErrInvalidToken, reason)
	}
	if len(token) > jws.MaxTokenSize {
		return fail(jws.ErrTooLarge)
	}
	p, err := jws.Split(token)
	if err != nil {
		return fail(err)
	}
	if len(p.Header) > jws.EncodedLen(jws.MaxHeaderSize) {
		return fail(jws.ErrHeaderTooLarge)
	}
	var hbuf [jws.MaxHeaderSize]byte
	n, ok := jws.Decode(hbuf[:], p.Header)
	if !ok {
		return fail(jws.ErrHeader)
	}
	h, err := jws.ParseHeader(hbuf[:n])
	switch {
	case err != nil:
		return fail(err)
	case h.Crit:
		return fail(jws.ErrCrit)
	case h.Typ != JWTType:
		return fail(errors.New("typ is not " + JWTType))
	case h.Kid == "":
		return fail(jws.ErrNoKID)
	}
	key := s.keys[h.Kid]
	if key == nil {
		return fail(jws.ErrUnknownKID)
	}
	kid = key.kid
	switch {
	case Alg(h.Alg) != key.alg:
		return fail(jws.ErrKeyMismatch)
	case !key.expires.IsZero() && !now.Before(key.expires):
		return fail(fmt.Errorf("key %s was retired and its tokens have expired", key.kid))
	}
	sigLen, payloadLen := jws.DecodedLen(len(p.Signature)), jws.DecodedLen(len(p.Payload))
	if sigLen < 0 {
		return fail(jws.ErrSignature) // a length no encoding has
	}
	sig := make([]byte, sigLen)
	n, ok = jws.Decode(sig, p.Signature)
	if !ok || !verifySignature(key.pub, p.SigningInput, sig[:n]) {
		return fail(jws.ErrSignature)
	}
	if payloadLen < 0 {
		return fail(jws.ErrClaims)
	}
	payload = make([]byte, payloadLen)
	if n, ok = jws.Decode(payload, p.Payload); !ok {
		return fail(jws.ErrClaims)
	}
	return payload[:n], kid, nil
}

// verifySignature checks an RS256 or EdDSA signature over a JWS Signing
// Input.
func verifySignature(pub crypto.PublicKey, input string, sig []byte) bool {
	switch pub := pub.(type) {
	case ed25519.PublicKey:
		return ed25519.Verify(pub, []byte(input), sig)
	case *rsa.PublicKey:
		digest := sha256.Sum256([]byte(input))
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil
	}
	return false
}
