// Package resource verifies Rotor access tokens for resource servers, with a
// cached JWKS and net/http middleware.
//
// A [Verifier] knows Rotor's issuer URL and the server's audience. It finds
// the JWKS through RFC 8414 metadata (or is given its URL), keeps the key set
// as an immutable snapshot refreshed in the background as the JWKS max-age
// asks, and verifies tokens without locks on the request path: the compact
// JWS is checked against RFC 9068 §4 and RFC 8725 by Rotor's one set of JWS
// rules (internal/jws, shared with the identity provider's introspection),
// the signature by crypto/rsa or crypto/ed25519 directly, then the claims.
// Tokens already verified come from a bounded cache until they expire or
// their key leaves the JWKS.
//
// The key set fails safe: a fetch that fails or returns nothing usable never
// replaces the last good set, which keeps serving for up to Config.MaxStale;
// before the first good set, and after MaxStale, every verification fails
// closed with [ErrKeysUnavailable] while fetching goes on. A kid the set lacks
// causes at most one fetch per Config.UnknownKeyFloor, shared by all
// concurrent requests.
//
// MaxStale (default one hour, four refresh periods at the default
// MaxRefresh) is a trade-off. While Rotor's JWKS cannot be reached, the last
// good set keeps a resource server answering for that long; it also keeps
// trusting, for that long, a key Rotor has revoked after a compromise, since
// revocation is the key's removal from the JWKS. A longer MaxStale rides out
// longer outages of the issuer and widens that window; a shorter one fails
// closed sooner. Claims: typ at+jwt, exact iss, aud containing the
// server's, and exp, iat, sub, client_id and jti present (RFC 9068 §2.2).
//
// [Verifier.Authenticate] and [RequireScope] are plain func(http.Handler)
// http.Handler middleware answering with RFC 6750 §3 challenges; handlers read
// the claims with [ClaimsFrom].
//
// The package imports only the standard library, jwx (for decoding JWKs, off
// the request path) and internal/jws (itself standard library only): a
// resource server never pulls in a database driver or any other part of the
// identity provider. Package resourcetest provides a Rotor
// test issuer on loopback for tests.
package resource
