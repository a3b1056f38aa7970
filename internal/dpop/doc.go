// Package dpop checks DPoP proofs (RFC 9449 §4.3) for the token endpoint and
// the resource library, with jwx and the standard library only.
package dpop
