package jws

import (
	"bytes"
	"encoding/json"
)

// Walk checks b with the strict rules of the JOSE header and claims parser
// (valid UTF-8 JSON, one object, no repeated or escaped member names) and
// calls member with each top-level member's name and raw value, in order.
// It lets other JOSE objects in Rotor (a DPoP proof's header and claims, an
// embedded jwk) share one parser. The slices alias b and are valid only
// during the call; member returning false stops the walk, and Walk then
// returns false.
func Walk(b []byte, member func(name, value []byte) bool) bool {
	return walkObject(b, func(name, v span) bool {
		return member(b[name.start:name.end], b[v.start:v.end])
	})
}

// Unquote decodes a raw JSON string value that Walk handed over, reporting
// false for any other kind of value. A string without escapes, the norm, is
// copied once; one with escapes goes through encoding/json.
func Unquote(lit []byte) (string, bool) {
	if len(lit) < 2 || lit[0] != '"' {
		return "", false
	}
	body := lit[1 : len(lit)-1]
	if bytes.IndexByte(body, '\\') < 0 {
		return string(body), true
	}
	var s string
	return s, json.Unmarshal(lit, &s) == nil
}

// ParseClaims decodes a JWT claims set with the rules Verify applies to an
// access token's (strict JSON, registered claims of their registered types),
// for JWTs that other code verifies, such as client assertions. The strings
// alias payload, which must not be modified afterwards.
func ParseClaims(payload []byte) (Claims, error) { return parseClaims(payload) }
