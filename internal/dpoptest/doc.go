// Package dpoptest is a DPoP client for tests: it makes proofs (RFC 9449 §4)
// with jwx, as any client library would, and crafts broken ones for attack
// tests.
package dpoptest
