package idp

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"time"
)

// handleAuthorize is the authorization endpoint (RFC 6749 §3.1). GET reads
// the query; POST, which OpenID Connect Core §3.1.2.1 also requires, reads
// the same parameters from a form body.
func (s *server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	raw := r.URL.RawQuery
	if r.Method == http.MethodPost {
		body, err := s.readPageForm(w, r)
		if err != nil {
			s.authzFail(w, r, nil, authzPageError("The sign-in request is malformed."))
			return
		}
		raw = body
	}
	q, e := parseAuthzQuery(raw)
	if e != nil {
		s.authzFail(w, r, nil, e)
		return
	}
	req, e := s.checkAuthz(r, q)
	if e != nil {
		s.authzFail(w, r, req, e)
		return
	}
	now := s.now()
	if req.sessionIsEnough() && s.codeFromSession(w, r, req, now) {
		return
	}
	se, err := s.currentSession(r, now)
	if err != nil {
		s.renderFailure(w, r, err)
		return
	}
	s.continueSignIn(w, r, req, se, false, false, now)
}

// sessionIsEnough reports whether a live session is all that req needs for
// a code: a first-party client (no consent), and neither prompt=login,
// prompt=consent nor max_age.
func (req *authzRequest) sessionIsEnough() bool {
	return req.client.FirstParty && !req.prompt.login && !req.prompt.consent && req.maxAge < 0
}

// codeFromSession is the common case of single sign-on in one store call:
// it stores a code in the browser's session and redirects, and reports
// whether it did. Without a live session it does nothing, and the request
// takes the ordinary path (the login page, or login_required).
func (s *server) codeFromSession(w http.ResponseWriter, r *http.Request, req *authzRequest, now time.Time) bool {
	hash, ok := secretHash(cookieValue(r, s.cookies.session))
	if !ok {
		return false
	}
	code, se, err := s.storeCode(r, req, hash, now)
	switch {
	case errors.Is(err, ErrNotFound):
		return false
	case err != nil:
		s.renderFailure(w, r, err)
		return true
	}
	s.touch(r, &se, now)
	s.redirectToClient(w, r, req.redirectURI, url.Values{"code": {code}, "state": {req.state}})
	return true
}

// readPageForm reads the size-limited form body of a POST from one of
// Rotor's pages (or a form_post authorization request) as a raw query.
func (s *server) readPageForm(w http.ResponseWriter, r *http.Request) (string, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return "", errors.New("not a form")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		return "", err
	}
	return string(body), nil
}
