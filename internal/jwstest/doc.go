// Package jwstest is the attack catalogue that every JWS verifier in Rotor
// (resource.Verifier, keys.Snapshot.Verify) must pass, with the signing
// helpers it needs.
package jwstest
