package idp

import (
	"errors"
	"io"
	"mime"
	"net/http"
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
	se, err := s.currentSession(r, now)
	if err != nil {
		s.renderFailure(w, r, err)
		return
	}
	s.continueSignIn(w, r, req, se, false, false, now)
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
