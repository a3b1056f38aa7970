package idp

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/rotor-idp/rotor/internal/dpop"
)

// oauthError is an error response of the token, revocation and introspection
// endpoints (RFC 6749 §5.2). Grants return it as a value; writeError is the
// one place that turns it into a response.
type oauthError struct {
	Code        string // RFC 6749 §5.2 error code
	Description string // fixed, human-readable; never internal detail
	Status      int
	RetryAfter  time.Duration // > 0 adds Retry-After (RFC 9110 §10.2.3)
	dpopNonce   string        // sent as DPoP-Nonce (RFC 9449 §8)
	cause       error         // logged, never sent
}

func (e *oauthError) Error() string {
	if e.cause != nil {
		return e.Code + ": " + e.Description + ": " + e.cause.Error()
	}
	return e.Code + ": " + e.Description
}

func (e *oauthError) Unwrap() error { return e.cause }

func errInvalidRequest(desc string) *oauthError {
	return &oauthError{Code: "invalid_request", Description: desc, Status: http.StatusBadRequest}
}

func errInvalidClient() *oauthError {
	// RFC 6749 §5.2: 401 with a WWW-Authenticate challenge (written by writeError).
	return &oauthError{Code: "invalid_client", Description: "client authentication failed", Status: http.StatusUnauthorized}
}

func errInvalidGrant(desc string) *oauthError {
	return &oauthError{Code: "invalid_grant", Description: desc, Status: http.StatusBadRequest}
}

func errUnauthorizedClient(desc string) *oauthError {
	return &oauthError{Code: "unauthorized_client", Description: desc, Status: http.StatusBadRequest}
}

func errUnsupportedGrantType() *oauthError {
	return &oauthError{Code: "unsupported_grant_type", Description: "grant_type is not supported", Status: http.StatusBadRequest}
}

func errInvalidScope(desc string) *oauthError {
	return &oauthError{Code: "invalid_scope", Description: desc, Status: http.StatusBadRequest}
}

// errUnavailable answers a request that cannot be served right now (database
// down, key ring not loaded, password hashing saturated). RFC 6749 defines
// temporarily_unavailable for the authorization endpoint; Rotor uses the same
// code with 503 and Retry-After on its other endpoints.
func errUnavailable(cause error) *oauthError {
	return &oauthError{
		Code: "temporarily_unavailable", Description: "the server is temporarily unable to handle the request",
		Status: http.StatusServiceUnavailable, RetryAfter: 2 * time.Second, cause: cause,
	}
}

func errThrottled(retry time.Duration) *oauthError {
	return &oauthError{
		Code: "temporarily_unavailable", Description: "too many failed attempts; retry later",
		Status: http.StatusTooManyRequests, RetryAfter: retry,
	}
}

func errServer(cause error) *oauthError {
	return &oauthError{Code: "server_error", Description: "internal error", Status: http.StatusInternalServerError, cause: cause}
}

// storeError maps an unexpected store error to the response it deserves: 503
// when the database is unreachable or the request ran out of time, 500
// otherwise.
func storeError(err error) *oauthError {
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return errUnavailable(err)
	}
	return errServer(err)
}

// asOAuthError turns any error a handler returns into an oauthError.
func asOAuthError(err error) *oauthError {
	var oe *oauthError
	if errors.As(err, &oe) {
		return oe
	}
	return storeError(err)
}

// writeError writes an RFC 6749 §5.2 error response: JSON, no-store, and for
// invalid_client a 401 with a Basic challenge.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	oe := asOAuthError(err)
	s.errorObserved(oe)
	h := w.Header()
	if oe.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Basic realm="rotor", charset="UTF-8"`)
	}
	if oe.dpopNonce != "" {
		h.Set(dpop.NonceName, oe.dpopNonce)
	}
	if oe.RetryAfter > 0 {
		// Whole seconds, rounded up (RFC 9110 §10.2.3).
		h.Set("Retry-After", strconv.Itoa(int((oe.RetryAfter+time.Second-1)/time.Second)))
	}
	if oe.Status >= 500 {
		s.logFailure(r.Context(), r, oe.Status, errString(oe.cause))
	}
	body := make([]byte, 0, 96+len(oe.Description))
	body = append(body, `{"error":`...)
	body = appendJSONString(body, oe.Code)
	if oe.Description != "" {
		body = append(body, `,"error_description":`...)
		body = appendJSONString(body, oe.Description)
	}
	body = append(body, '}')
	writeJSONBytes(w, oe.Status, body)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
