package resource

import (
	"errors"

	"github.com/rotor-idp/rotor/internal/jws"
)

// Sentinel errors returned by Verify and used by the middleware. Errors carry a
// short fixed detail for logs (for example "expired" or "unknown kid") and
// match these sentinels with errors.Is. No error ever contains the token, a
// claim value, a kid or key material.
var (
	// ErrNoToken means the request carried no access token: the middleware
	// answers 401 with a bare Bearer challenge (RFC 6750 §3.1).
	ErrNoToken = errors.New("resource: no access token")
	// ErrInvalidRequest means the Authorization header is malformed, or a
	// token came in the query as well: the middleware answers 400
	// invalid_request (RFC 6750 §3.1).
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

// detailError pairs a sentinel with a fixed, non-sensitive reason: a
// *jws.Error for what the shared JWS rules reject, or a detail of this
// package's own. The values below are allocated once, so rejecting hostile
// input allocates nothing. errors.Is matches both the sentinel and the reason.
type detailError struct {
	kind   error
	reason error
}

func (e *detailError) Error() string { return e.kind.Error() + ": " + e.reason.Error() }
func (e *detailError) Unwrap() error { return e.kind }

// Is matches the reason too, without the allocation of Unwrap() []error.
func (e *detailError) Is(target error) bool { return target == e.reason }

func invalid(reason error) *detailError { return &detailError{ErrInvalidToken, reason} }

func detail(text string) error { return errors.New(text) }

var (
	errTooLarge       = invalid(jws.ErrTooLarge)
	errMalformed      = invalid(jws.ErrMalformed)
	errHeader         = invalid(jws.ErrHeader)
	errHeaderTooLarge = invalid(jws.ErrHeaderTooLarge)
	errAlg            = invalid(jws.ErrAlg)
	errTyp            = invalid(jws.ErrTyp)
	errNoKID          = invalid(jws.ErrNoKID)
	errCrit           = invalid(jws.ErrCrit)
	errUnknownKID     = invalid(jws.ErrUnknownKID)
	errKeyMismatch    = invalid(jws.ErrKeyMismatch)
	errSignature      = invalid(jws.ErrSignature)
	errClaims         = invalid(jws.ErrClaims)
	errIssuer         = invalid(detail("wrong issuer"))
	errAudience       = invalid(detail("wrong audience"))
	errNoExp          = invalid(detail("exp missing"))
	errExpired        = invalid(detail("expired"))
	errNoIat          = invalid(detail("iat missing"))
	errIatFuture      = invalid(detail("iat in the future"))
	errNotYetValid    = invalid(detail("nbf in the future"))
	errNoSub          = invalid(detail("sub missing"))
	errNoClientID     = invalid(detail("client_id missing"))
	errNoJTI          = invalid(detail("jti missing"))
	errCnf            = invalid(detail("unsupported cnf confirmation"))

	errTwoMethods = &detailError{ErrInvalidRequest, detail("access token in both the Authorization header and the query")}

	errNoKeySet    = &detailError{ErrKeysUnavailable, detail("no key set fetched yet")}
	errStaleKeySet = &detailError{ErrKeysUnavailable, detail("key set older than MaxStale")}
	errClosed      = &detailError{ErrKeysUnavailable, detail("verifier closed")}
)

// jwsErrors maps each reason the shared rules give to this package's error.
var jwsErrors = func() map[error]error {
	m := map[error]error{}
	for _, e := range []*detailError{
		errTooLarge, errMalformed, errHeader, errHeaderTooLarge, errAlg, errTyp, errNoKID,
		errCrit, errUnknownKID, errKeyMismatch, errSignature, errClaims,
	} {
		m[e.reason] = e
	}
	return m
}()

// fromJWS turns an error from jws.Verify into one of this package's: a
// reason of the shared rules becomes its detailError; an error from the key
// lookup is one of ours already.
func fromJWS(err error) error {
	if e, ok := jwsErrors[err]; ok {
		return e
	}
	return err
}
