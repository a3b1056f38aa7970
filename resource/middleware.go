package resource

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

type claimsKey struct{}

// ClaimsFrom returns the claims Authenticate stored in ctx. The value is a
// copy; changing it changes nothing else.
func ClaimsFrom(ctx context.Context) (Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	if !ok {
		return Claims{}, false
	}
	return *c, true
}

// Authenticate is net/http middleware (usable with chi's Use) that requires a
// valid Rotor access token in the Authorization header (RFC 6750 §2.1; a
// DPoP-bound token with the DPoP scheme and proof, see VerifyRequest) and
// puts its claims in the request context for ClaimsFrom. Tokens in the query
// string or a form body are not accepted (RFC 6750 §2.2, §2.3; RFC 9700
// §2.5); a request with a token in both the header and an access_token query
// parameter gets 400 invalid_request (one method per request, RFC 6750 §2).
// A form body is not read.
//
// Failures are answered per RFC 6750 §3: no Authorization header gets 401
// with a bare Bearer challenge; a malformed header (another scheme, no token,
// two tokens, several Authorization headers) or a second token in the query
// gets 400 invalid_request; a bad
// token gets 401 invalid_token; when no usable key set is at hand the answer
// is 503, since the token may well be good. Bodies are {"error":"..."} or
// empty and never carry details.
func (v *Verifier) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := v.VerifyRequest(r)
		if err != nil {
			v.writeAuthError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, &c)))
	})
}

// RequireScope is net/http middleware, placed after Authenticate, that
// requires every one of scopes to have been granted (scope or scp claim), and
// otherwise answers 403 insufficient_scope naming them (RFC 6750 §3.1). It
// panics if a scope is not an RFC 6749 §3.3 scope-token, as that is a
// programming error.
func RequireScope(scopes ...string) func(http.Handler) http.Handler {
	for _, s := range scopes {
		if !isScopeToken(s) {
			panic("resource: RequireScope: invalid scope token")
		}
	}
	joined := strings.Join(scopes, " ")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := ClaimsFrom(r.Context())
			if !ok {
				// Authenticate did not run: fail closed.
				writeError(w, ErrNoToken, "")
				return
			}
			for _, s := range scopes {
				if !c.HasScope(s) {
					writeError(w, ErrInsufficientScope, joined)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// tokenInQuery reports whether the query string has an access_token
// parameter (RFC 6750 §2.3), cheaply when it has none.
func tokenInQuery(raw string) bool {
	if !strings.Contains(raw, "access_token") {
		return false
	}
	q, _ := url.ParseQuery(raw) // what parses, even if some pair does not
	return q.Has("access_token")
}

// isB64Token reports whether s matches RFC 6750 §2.1
// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	i := 0
	for i < len(s) {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			i++
			continue
		}
		break
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// isScopeToken reports whether s is an RFC 6749 §3.3 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ), which also makes it safe inside the quoted
// scope attribute of a challenge.
func isScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7E || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// writeError answers with the RFC 6750 §3 response for err. Only fixed text
// is written: never the error's detail, the token, a kid or a URL.
func writeError(w http.ResponseWriter, err error, scope string) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	var status int
	var challenge, code string
	switch {
	case errors.Is(err, ErrNoToken):
		// RFC 6750 §3.1: no error code when the request had no token.
		h.Set("WWW-Authenticate", "Bearer")
		w.WriteHeader(http.StatusUnauthorized)
		return
	case errors.Is(err, errTwoMethods.reason):
		status, code = http.StatusBadRequest, "invalid_request"
		challenge = `Bearer error="invalid_request", error_description="access token in both the Authorization header and the query"`
	case errors.Is(err, ErrInvalidRequest):
		status, code = http.StatusBadRequest, "invalid_request"
		challenge = `Bearer error="invalid_request", error_description="malformed Authorization header"`
	case errors.Is(err, ErrInsufficientScope):
		status, code = http.StatusForbidden, "insufficient_scope"
		challenge = `Bearer error="insufficient_scope", scope="` + scope + `"`
	case errors.Is(err, ErrKeysUnavailable):
		status, code = http.StatusServiceUnavailable, "temporarily_unavailable"
	default:
		status, code = http.StatusUnauthorized, "invalid_token"
		challenge = `Bearer error="invalid_token", error_description="the access token is invalid"`
	}
	if challenge != "" {
		h.Set("WWW-Authenticate", challenge)
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write([]byte(`{"error":"` + code + `"}` + "\n"))
}
