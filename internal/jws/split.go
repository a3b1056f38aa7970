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
	// not.
	if !alphabetOnly(token[:first]) || !alphabetOnly(token[first+1:second]) || !alphabetOnly(token[second+1:]) {
		return Parts{}, ErrMalformed
	}
	return Parts{
		Header:       token[:first],
		Payload:      token[first+1 : second],
		Signature:    token[second+1:],
		SigningInput: token[:second],
	}, nil
}

// alphabetOnly reports whether s holds only base64url characters. It ORs the
// table values, eight at a time, and tests once: a branch per byte would cost
// more than the lookups.
func alphabetOnly(s string) bool {
	var bad byte
	for len(s) >= 8 {
		bad |= b64Table[s[0]] | b64Table[s[1]] | b64Table[s[2]] | b64Table[s[3]] |
			b64Table[s[4]] | b64Table[s[5]] | b64Table[s[6]] | b64Table[s[7]]
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		bad |= b64Table[s[i]]
	}
	return bad&0xC0 == 0
}
