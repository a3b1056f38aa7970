package idp

import (
	"github.com/rotor-idp/rotor/internal/jws"
)

// assertion is a client assertion split and decoded, not yet verified.
type assertion struct {
	parts    jws.Parts
	alg, kid string
	claims   jws.Claims
}

// parseAssertion decodes a client assertion with Rotor's strict JOSE parser:
// a compact JWS (RFC 7515 §7.1) whose header is strict JSON with a string
// alg, no crit (RFC 7515 §4.1.11), and whose claims are a strict claims set
// with registered claims of their registered types.
func parseAssertion(raw string) (assertion, error) {
	p, err := jws.Split(raw)
	if err != nil || len(p.Header) > jws.EncodedLen(jws.MaxHeaderSize) {
		return assertion{}, errAssertionShape
	}
	var hbuf [jws.MaxHeaderSize]byte
	n, ok := jws.Decode(hbuf[:], p.Header)
	if !ok {
		return assertion{}, errAssertionShape
	}
	a := assertion{parts: p}
	algOK, kidOK, crit := false, true, false
	if !jws.Walk(hbuf[:n], func(name, v []byte) bool {
		switch string(name) {
		case "alg":
			a.alg, algOK = jws.Unquote(v)
		case "kid":
			a.kid, kidOK = jws.Unquote(v)
		case "crit":
			crit = true
		}
		return true
	}) || !algOK || !kidOK || crit {
		return assertion{}, errAssertionShape
	}
	size := jws.DecodedLen(len(p.Payload))
	if size < 0 {
		return assertion{}, errAssertionShape
	}
	payload := make([]byte, size)
	if _, ok := jws.Decode(payload, p.Payload); !ok {
		return assertion{}, errAssertionShape
	}
	if a.claims, err = jws.ParseClaims(payload); err != nil {
		return assertion{}, errAssertionShape
	}
	return a, nil
}
