package resource

import "errors"

// Sentinel errors returned by Verify and used by the middleware. Errors carry a
// short fixed detail for logs (for example "expired" or "unknown kid") and
// match these sentinels with errors.Is. No error ever contains the token, a
// claim value, a kid or key material.
var (
	// ErrNoToken means the request carried no access token: the middleware
	// answers 401 with a bare Bearer challenge (RFC 6750 §3.1).
	ErrNoToken = errors.New("resource: no access token")
	// ErrInvalidRequest means the Authorization header is malformed: the
	// middleware answers 400 invalid_request (RFC 6750 §3.1).
	ErrInvalidRequest = errors.New("resource: malformed authorization header")
	// ErrInvalidToken means the token is malformed, forged, expired, for
	// another issuer or audience, or signed by a key Rotor does not publish:
	// the middleware answers 401 invalid_token (RFC 6750 §3.1).
	ErrInvalidToken = errors.New("resource: invalid access token")
	// ErrKeysUnavailable means no usable key set is at hand: none has been
	// fetched yet, or the last good one is older than Config.MaxStale. The
	// verifier fails closed and keeps fetching in the background; the
	// middleware answers 503.
	ErrKeysUnavailable = errors.New("resource: signing keys unavailable")
	// ErrInsufficientScope means the token lacks a scope the route requires:
	// RequireScope answers 403 insufficient_scope (RFC 6750 §3.1).
	ErrInsufficientScope = errors.New("resource: insufficient scope")
)

// detailError pairs a sentinel with a fixed, non-sensitive detail. The values
// below are allocated once, so rejecting hostile input allocates nothing.
type detailError struct {
	kind   error
	detail string
}

func (e *detailError) Error() string { return e.kind.Error() + ": " + e.detail }
func (e *detailError) Unwrap() error { return e.kind }

func invalid(detail string) error { return &detailError{ErrInvalidToken, detail} }

var (
	errTooLarge       = invalid("token too large")
	errMalformed      = invalid("not a compact JWS")
	errHeader         = invalid("malformed JOSE header")
	errHeaderTooLarge = invalid("JOSE header too large")
	errAlg            = invalid("algorithm not allowed")
	errTyp            = invalid("typ is not at+jwt")
	errNoKID          = invalid("kid missing")
	errCrit           = invalid("unsupported crit header")
	errUnknownKID     = invalid("unknown kid")
	errKeyMismatch    = invalid("key does not match alg")
	errSignature      = invalid("bad signature")
	errClaims         = invalid("malformed claims")
	errIssuer         = invalid("wrong issuer")
	errAudience       = invalid("wrong audience")
	errNoExp          = invalid("exp missing")
	errExpired        = invalid("expired")
	errNoIat          = invalid("iat missing")
	errIatFuture      = invalid("iat in the future")
	errNotYetValid    = invalid("nbf in the future")
	errNoSub          = invalid("sub missing")

	errNoKeySet    = &detailError{ErrKeysUnavailable, "no key set fetched yet"}
	errStaleKeySet = &detailError{ErrKeysUnavailable, "key set older than MaxStale"}
	errClosed      = &detailError{ErrKeysUnavailable, "verifier closed"}
)
