// Package httpcache reads HTTP caching headers (RFC 9111) for Rotor's
// fetchers of key sets: the resource library's JWKS cache and the identity
// provider's fetch of clients' jwks_uri. Standard library only, so the
// resource library may import it.
package httpcache
