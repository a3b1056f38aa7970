package jws

import (
	"bytes"
	"encoding/json"
)

// Header is the part of a JOSE header (RFC 7515 §4.1) that Verify uses. jwk,
// jku, x5u, x5c and every other member are checked for validity and
// otherwise ignored: keys come only from the issuer's own key set (RFC 8725
// §3.10).
type Header struct {
	Alg, Kid, Typ          string
	HasAlg, HasKid, HasTyp bool
	// Crit is set when the header has a crit member, whatever its value.
	Crit bool
}

// ParseHeader decodes a JOSE header strictly (see walkObject: valid UTF-8
// JSON object, no repeated or escaped member names). Member names match
// exactly: JSON names are case-sensitive, so "ALG" is not "alg". alg, kid
// and typ, when present, must be strings.
func ParseHeader(b []byte) (Header, error) {
	var h Header
	ok := walkObject(b, func(name, v span) bool {
		var dst *string
		switch string(b[name.start:name.end]) {
		case "alg":
			dst, h.HasAlg = &h.Alg, true
		case "kid":
			dst, h.HasKid = &h.Kid, true
		case "typ":
			dst, h.HasTyp = &h.Typ, true
		case "crit":
			// RFC 7515 §4.1.11: a recipient must reject a JWS whose crit
			// names an extension it does not understand. Verify
			// understands none, and an empty crit is invalid too.
			h.Crit = true
		}
		if dst == nil {
			return true
		}
		s, ok := headerString(b[v.start:v.end])
		*dst = s
		return ok
	})
	if !ok {
		return Header{}, ErrHeader
	}
	return h, nil
}

// headerString decodes a JSON string value of the header. The values Rotor
// writes are returned without allocating; an unknown value is copied, and
// one with escapes goes through encoding/json.
func headerString(lit []byte) (string, bool) {
	if len(lit) < 2 || lit[0] != '"' {
		return "", false
	}
	body := lit[1 : len(lit)-1]
	switch string(body) {
	case RS256:
		return RS256, true
	case EdDSA:
		return EdDSA, true
	case "at+jwt":
		return "at+jwt", true
	}
	for _, c := range body {
		if c == '\\' {
			// Clone, so that the caller's buffer does not escape to the
			// heap on the common path.
			var s string
			return s, json.Unmarshal(bytes.Clone(lit), &s) == nil
		}
	}
	return string(body), true
}
