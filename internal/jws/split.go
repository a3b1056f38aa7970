package jws

import "strings"

// Parts is a compact JWS split at its two dots (RFC 7515 §7.1).
type Parts struct {
	Header, Payload, Signature string
	SigningInput               string // Header "." Payload (RFC 7515 §5.1 step 5)
}

// Split splits a compact JWS into its three non-empty segments. It accepts
// only the base64url alphabet and exactly two dots, so the JWS JSON
// serialization (RFC 7515 §7.2), a JWE (five segments, RFC 7516 §7.1),
// padding, whitespace and line breaks are all rejected here, before any
// decoding.
func Split(token string) (Parts, error) {
	first := strings.IndexByte(token, '.')
	if first <= 0 {
		return Parts{}, ErrMalformed
	}
	second := first + 1 + strings.IndexByte(token[first+1:], '.')
	if second <= first+1 || second == len(token)-1 {
		return Parts{}, ErrMalformed
	}
	// Every byte but the two dots must be in the alphabet; a third dot is
	// not. OR the table values and test once: faster than a branch a byte.
	var bad byte
	for _, seg := range [3]string{token[:first], token[first+1 : second], token[second+1:]} {
		for i := 0; i < len(seg); i++ {
			bad |= b64Table[seg[i]]
		}
	}
	if bad&0xC0 != 0 {
		return Parts{}, ErrMalformed
	}
	return Parts{
		Header:       token[:first],
		Payload:      token[first+1 : second],
		Signature:    token[second+1:],
		SigningInput: token[:second],
	}, nil
}
