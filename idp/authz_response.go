package idp

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Authorization responses (RFC 6749 §4.1.2): the code, or an error, sent to
// the client's redirect URI with state and iss (RFC 9207).

// CodeTTL is an authorization code's life (RFC 6749 §4.1.2 recommends at
// most ten minutes; a browser redirect takes seconds).
const CodeTTL = 60 * time.Second

// issueCode stores a code in the browser's session and sends the browser
// back to the client with it. If the session ended in between (the store
// refuses a code for an ended session), the sign-in starts over.
func (s *server) issueCode(w http.ResponseWriter, r *http.Request, req *authzRequest, se *Session, now time.Time) {
	code, _, err := s.storeCode(r, req, se.Hash, now)
	switch {
	case errors.Is(err, ErrNotFound):
		s.continueSignIn(w, r, req, nil, false, false, now)
	case err != nil:
		s.renderFailure(w, r, err)
	default:
		s.redirectToClient(w, r, req.redirectURI, url.Values{"code": {code}, "state": {req.state}})
	}
}

// storeCode stores a new code for req in the session whose cookie hashes to
// sessionHash, and returns the code and the session. ErrNotFound if that
// session is not live (or its user is disabled, or the client is gone).
func (s *server) storeCode(r *http.Request, req *authzRequest, sessionHash []byte, now time.Time) (string, Session, error) {
	code, hash := newSecret()
	se, err := s.codes.CreateSessionCode(r.Context(), sessionHash, now, AuthCode{
		Hash: hash, ClientID: req.client.ID, RedirectURI: req.redirectParam, CodeChallenge: req.codeChallenge,
		Scope: strings.Join(req.scope, " "), Nonce: req.nonce, CreatedAt: now, ExpiresAt: now.Add(CodeTTL),
	})
	return code, se, err
}

// authzFail answers a refused authorization request: a page when the
// redirect URI is not trusted, else a redirect with the error.
func (s *server) authzFail(w http.ResponseWriter, r *http.Request, req *authzRequest, e *authzError) {
	if e.page || req == nil {
		if e.code == "server_error" {
			cause := e.err
			if cause == nil {
				cause = errors.New(e.desc)
			}
			s.renderFailure(w, r, cause)
			return
		}
		s.renderError(w, r, http.StatusBadRequest, "Cannot sign in", e.desc,
			"Go back to the application you came from and try again. If it keeps happening, tell its administrator.", 0)
		return
	}
	s.redirectToClient(w, r, req.redirectURI, url.Values{
		"error": {e.code}, "error_description": {e.desc}, "state": {req.state},
	})
}

// redirectToClient sends the browser to a registered redirect URI with
// params (empty values left out) and iss added to its query. 303 makes the
// browser GET the target whether it came with a GET or a form POST (RFC 9700
// §4.12).
func (s *server) redirectToClient(w http.ResponseWriter, r *http.Request, target string, params url.Values) {
	params.Set("iss", s.cfg.Issuer)
	for k, v := range params {
		if len(v) == 0 || v[0] == "" {
			delete(params, k)
		}
	}
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	h := w.Header()
	h.Set("Location", target+sep+params.Encode())
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusSeeOther)
}

// cspSource returns the CSP source expression (CSP 3 §2.3.1) that matches a
// registered redirect URI: its scheme, host and port, or just its scheme for
// a private-use scheme. Registration has checked the URI (redirect.go), and
// the result is checked again here, character by character, because it goes
// into a header: an unexpected URI gets no source ("" ).
func cspSource(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return ""
	}
	src := u.Scheme + ":"
	if u.Scheme == "http" || u.Scheme == "https" {
		src += "//" + u.Host
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte(".-+:/[]", c) >= 0) {
			return ""
		}
	}
	return src
}
