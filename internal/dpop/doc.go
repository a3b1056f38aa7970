// Package dpop checks DPoP proofs (RFC 9449 §4.3) for the token endpoint and
// the resource library, with the standard library and Rotor's strict JOSE
// parser (internal/jws) only.
package dpop
