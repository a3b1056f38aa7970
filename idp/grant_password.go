package idp

import (
	"errors"
	"net/http"
	"slices"
)

// errBadLogin is the one answer to a wrong password, an unknown user and a
// disabled user, so none of them can be told apart.
var errBadLogin = errInvalidGrant("invalid username or password")

// grantPassword is RFC 6749 §4.3, for first-party clients that opted in. The
// password check, its throttling and its cost are authenticate's, shared
// with the login page.
func (s *server) grantPassword(r *http.Request, f form, c Client, jkt string) (*tokenResponse, error) {
	name, pw := f.get("username"), f.get("password")
	if name == "" || pw == "" {
		return nil, errInvalidRequest("username and password are required")
	}
	if len(name) > maxUsernameLen || len(pw) > MaxPasswordLen {
		return nil, errInvalidRequest("username or password is too long")
	}
	scope, err := grantScope(f.get("scope"), c.Scopes)
	if err != nil {
		return nil, err
	}
	k, err := s.signer(c)
	if err != nil {
		return nil, err
	}
	u, err := s.authenticate(r.Context(), name, pw, s.proxies.clientAddr(r))
	s.loginObserved(r, c.ID, name, u, err)
	if err != nil {
		return nil, loginError(err)
	}

	now := s.now()
	resp, err := s.mint(k, c, u.ID, scope, now, now, jkt)
	if err != nil {
		return nil, err
	}
	if slices.Contains(c.GrantTypes, GrantRefreshToken) {
		if resp.RefreshToken, err = s.newFamily(r, c, u, resp.Scope, now, familyKey(c, jkt)); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// loginError maps authenticate's refusals to RFC 6749 §5.2 answers: 400
// invalid_grant, 429 or 503 with Retry-After.
func loginError(err error) error {
	var throttled *throttledError
	var busy *busyError
	switch {
	case errors.Is(err, errBadCredentials):
		return errBadLogin
	case errors.As(err, &throttled):
		return errThrottled(throttled.retryAfter)
	case errors.As(err, &busy):
		return errUnavailable(busy.cause)
	}
	return storeError(err)
}
