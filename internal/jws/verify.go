package jws

// Bounds on hostile input, checked before any decoding (RFC 8725 §3.1 asks
// verifiers to be robust against malicious tokens). Rotor's tokens are well
// under 2 KiB.
const (
	// MaxTokenSize is the largest token Verify decodes.
	MaxTokenSize = 16 << 10
	// MaxHeaderSize bounds the decoded JOSE header.
	MaxHeaderSize = 1 << 10
)

// Token is a verified token.
type Token struct {
	Header Header
	Key    *Key
	Claims Claims
	// Payload is the decoded claims set. The strings in Claims share its
	// memory: it must not be modified.
	Payload []byte
}

// Verify checks a compact JWS access token (RFC 7515 §5.2, RFC 9068 §4, RFC
// 8725) and decodes its claims, in this order, each failure with its own
// error:
//
//   - at most MaxTokenSize bytes (ErrTooLarge); three non-empty base64url
//     segments (ErrMalformed); a header of at most MaxHeaderSize bytes
//     (ErrHeaderTooLarge) that is strict JSON (ErrHeader, see ParseHeader);
//   - no crit (ErrCrit);
//   - alg RS256 or EdDSA, and in algs unless algs is nil (ErrAlg; RFC 7515
//     §4.1.1: alg is case-sensitive, so "none" in any spelling fails);
//   - typ at+jwt or application/at+jwt, compared without regard to ASCII
//     case (ErrTyp; RFC 9068 §4 step 1, RFC 8725 §3.11; media types are
//     case-insensitive, RFC 7515 §4.1.9, RFC 2045 §5.1);
//   - a non-empty kid (ErrNoKID), which find turns into a key or an error
//     that Verify returns as is (ErrUnknownKID, or one of the caller's);
//   - the key's algorithm equal to alg (ErrKeyMismatch; RFC 8725 §3.1);
//   - the signature (ErrSignature);
//   - a claims set that is strict JSON with registered claims of their
//     registered types (ErrClaims). Their values are the caller's to check.
//
// find is called at most once, and not after Verify returns.
func Verify(token string, algs []string, find func(kid string) (*Key, error)) (Token, error) {
	p, h, err := splitHeader(token, algs)
	if err != nil {
		return Token{}, err
	}
	key, err := find(h.Kid)
	switch {
	case err != nil:
		return Token{}, err
	case key == nil:
		return Token{}, ErrUnknownKID
	case key.alg != h.Alg:
		return Token{}, ErrKeyMismatch
	case len(p.Signature) != key.sigB64:
		return Token{}, ErrSignature
	}
	var sbuf [MaxRSABits / 8]byte
	n, ok := Decode(sbuf[:], p.Signature)
	if !ok || !key.verify(p.SigningInput, sbuf[:n]) {
		return Token{}, ErrSignature
	}
	// Only now is the payload decoded: nothing an attacker sends unsigned
	// costs more than the header.
	payload, c, err := decodeClaims(p.Payload)
	if err != nil {
		return Token{}, err
	}
	return Token{Header: h, Key: key, Claims: c, Payload: payload}, nil
}

// splitHeader splits token and decodes and checks its header: every rule
// that needs no key.
func splitHeader(token string, algs []string) (Parts, Header, error) {
	if len(token) > MaxTokenSize {
		return Parts{}, Header{}, ErrTooLarge
	}
	p, err := Split(token)
	if err != nil {
		return Parts{}, Header{}, err
	}
	if len(p.Header) > EncodedLen(MaxHeaderSize) {
		return Parts{}, Header{}, ErrHeaderTooLarge
	}
	var hbuf [MaxHeaderSize]byte
	n, ok := Decode(hbuf[:], p.Header)
	if !ok {
		return Parts{}, Header{}, ErrHeader
	}
	h, err := ParseHeader(hbuf[:n])
	if err == nil {
		err = checkHeader(h, algs)
	}
	return p, h, err
}

// decodeClaims decodes the payload segment into a buffer of its own and the
// claims from it.
func decodeClaims(segment string) ([]byte, Claims, error) {
	n := DecodedLen(len(segment))
	if n < 0 {
		return nil, Claims{}, ErrClaims // a length no encoding has
	}
	payload := make([]byte, n)
	if _, ok := Decode(payload, segment); !ok {
		return nil, Claims{}, ErrClaims
	}
	c, err := parseClaims(payload)
	return payload, c, err
}

// checkHeader applies the header rules that need no key.
func checkHeader(h Header, algs []string) error {
	if h.Crit {
		return ErrCrit
	}
	if !h.HasAlg || h.Alg != RS256 && h.Alg != EdDSA || algs != nil && !contains(algs, h.Alg) {
		return ErrAlg
	}
	if !TypeIsAccessToken(h.Typ) {
		return ErrTyp
	}
	if h.Kid == "" {
		return ErrNoKID
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TypeIsAccessToken reports whether typ names an RFC 9068 access token:
// "at+jwt" or "application/at+jwt" (RFC 9068 §4 step 1), compared without
// regard to ASCII case, since media types are case-insensitive (RFC 7515
// §4.1.9, RFC 2045 §5.1). No non-ASCII character folds to a letter of
// either, so this is also what strings.EqualFold would say.
func TypeIsAccessToken(typ string) bool {
	return equalFoldASCII(typ, "at+jwt") || equalFoldASCII(typ, "application/at+jwt")
}

// equalFoldASCII compares s with lower, which is lower case ASCII.
func equalFoldASCII(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
