// Package resourcetest runs a Rotor test issuer on loopback so that resource
// servers can test their use of package resource offline.
//
// An Issuer serves RFC 8414 metadata and a JWKS exactly as Rotor does (an RS256
// key and an EdDSA key, Cache-Control max-age, a strong ETag with 304 on
// If-None-Match) and signs access tokens in Rotor's RFC 9068 format. Tests can
// publish, unpublish and switch keys, replace the JWKS or metadata handler to
// inject faults, and count JWKS fetches.
//
// Keys are generated once per process and shared between Issuers (each Issuer
// still gets distinct keys of its own for every NewKey call), because RSA key
// generation dominates test time otherwise. Never use these keys outside tests.
package resourcetest
