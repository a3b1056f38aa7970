package dpop

import (
	"strconv"

	"github.com/rotor-idp/rotor/internal/jws"
)

// claims are the proof's payload (RFC 9449 §4.2).
type claims struct {
	JTI, HTM, HTU, ATH, Nonce string
	IAT                       int64
}

// maxJTILen bounds the jti a replay cache keeps.
const maxJTILen = 256

// parseClaims decodes a proof's claims strictly (see jws.Walk): jti, htm,
// htu, ath and nonce are strings, iat an integer; jti, htm, htu and iat are
// required. Anything else is ErrClaims.
func parseClaims(b []byte) (claims, error) {
	var (
		cl     claims
		hasIAT bool
	)
	ok := jws.Walk(b, func(name, v []byte) bool {
		var dst *string
		switch string(name) {
		case "jti":
			dst = &cl.JTI
		case "htm":
			dst = &cl.HTM
		case "htu":
			dst = &cl.HTU
		case "ath":
			dst = &cl.ATH
		case "nonce":
			dst = &cl.Nonce
		case "iat":
			n, err := strconv.ParseInt(string(v), 10, 64)
			cl.IAT, hasIAT = n, err == nil
			return hasIAT
		default:
			return true
		}
		s, ok := jws.Unquote(v)
		*dst = s
		return ok
	})
	if !ok || !hasIAT || cl.JTI == "" || len(cl.JTI) > maxJTILen || cl.HTM == "" || cl.HTU == "" {
		return claims{}, ErrClaims
	}
	return cl, nil
}
