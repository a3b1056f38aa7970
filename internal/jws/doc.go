// Package jws verifies Rotor's compact JWS access tokens (RFC 7515, RFC 9068)
// with one set of rules for every verifier in Rotor, using only the standard
// library.
package jws
