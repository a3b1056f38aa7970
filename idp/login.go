package idp

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// The login page: shown by the authorization endpoint when the browser has
// no usable session, posted to /login. The password check is authenticate's,
// shared with the password grant: the same throttling, the same hashing
// slots, the same answer for an unknown user and a wrong password.

// loginPage is the login form's data.
type loginPage struct {
	pageData
	ClientName string
	Action     string
	Request    string // the authorization request, carried
	CSRF       string
	Username   string
}

// Messages of the login page. One for every refused password, so the page
// tells nobody whether a user exists.
const (
	msgBadLogin  = "The username or password is incorrect."
	msgThrottled = "Too many failed sign-in attempts. Wait a while, then try again."
	msgBusy      = "Rotor is busy right now. Wait a moment, then try again."
)

// showLogin renders the login form for req.
func (s *server) showLogin(w http.ResponseWriter, r *http.Request, req *authzRequest, status int, msg, username string) {
	csrf := s.csrfCookie(w, r)
	s.render(w, r, status, pageLogin, &loginPage{
		pageData:   pageData{Title: "Sign in to " + req.client.DisplayName(), Error: msg, ErrorTitle: "Sign-in failed"},
		ClientName: req.client.DisplayName(),
		Action:     s.pages.path("/login"),
		Request:    req.carried(),
		CSRF:       s.forms.mint(formBinding{purpose: purposeLogin, cookie: csrf, request: req.carried()}, s.now()),
		Username:   username,
	}, cspSource(req.redirectURI))
}

// handleLogin takes the login form: it checks the CSRF token, the carried
// authorization request and the password, starts a session, and goes on
// with the sign-in.
func (s *server) handleLogin(w http.ResponseWriter, r *http.Request) {
	f, ok := s.pageForm(w, r)
	if !ok {
		return
	}
	now := s.now()
	request := f.Get("request")
	b := formBinding{purpose: purposeLogin, cookie: cookieValue(r, s.cookies.csrf), request: request}
	if !s.forms.check(f.Get("csrf_token"), b, now) {
		s.renderForbidden(w, r)
		return
	}
	req, ok := s.carriedRequest(w, r, request)
	if !ok {
		return
	}
	name, pw := f.Get("username"), f.Get("password")
	u, err := s.authenticate(r.Context(), name, pw, s.proxies.clientAddr(r))
	s.loginObserved(r, req.client.ID, name, u, err)
	if err != nil {
		s.loginFailed(w, r, req, name, err)
		return
	}
	se, err := s.startSession(w, r, u, now)
	if errors.Is(err, ErrNotFound) {
		// Disabled, or the password changed, between the password check
		// and now.
		s.showLogin(w, r, req, http.StatusBadRequest, msgBadLogin, echoUsername(name))
		return
	}
	if err != nil {
		s.renderFailure(w, r, err)
		return
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "signed in", slog.String("user_id", u.ID),
		slog.String("client_id", req.client.ID), slog.String("session_id", se.ID))
	s.continueSignIn(w, r, req, se, true, false, now)
}

// loginFailed maps authenticate's refusals to pages: the form again with one
// message for every wrong credential (400), or 429 / 503 with Retry-After.
func (s *server) loginFailed(w http.ResponseWriter, r *http.Request, req *authzRequest, name string, err error) {
	var throttled *throttledError
	var busy *busyError
	switch {
	case errors.Is(err, errBadCredentials):
		s.showLogin(w, r, req, http.StatusBadRequest, msgBadLogin, echoUsername(name))
	case errors.As(err, &throttled):
		w.Header().Set("Retry-After", retryAfter(throttled.retryAfter))
		s.showLogin(w, r, req, http.StatusTooManyRequests, msgThrottled, echoUsername(name))
	case errors.As(err, &busy):
		w.Header().Set("Retry-After", retryAfter(2*time.Second))
		s.showLogin(w, r, req, http.StatusServiceUnavailable, msgBusy, echoUsername(name))
	default:
		s.renderFailure(w, r, err)
	}
}

// echoUsername is the username to fill the form with again: only a plain
// one (the template escapes it anyway).
func echoUsername(name string) string {
	if len(name) > maxLoginHintLen || checkText(name) != nil {
		return ""
	}
	return name
}

// pageForm reads the form a page posted. A body that is not a form, too
// large, or malformed gets a 400 page.
func (s *server) pageForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	raw, err := s.readPageForm(w, r)
	var f url.Values
	if err == nil {
		f, err = url.ParseQuery(raw)
	}
	if err == nil {
		for _, vs := range f {
			if len(vs) > 1 {
				err = errors.New("repeated field")
			}
		}
	}
	if err != nil {
		s.renderError(w, r, http.StatusBadRequest, "Cannot sign in", "The form could not be read.", "Go back to the application and try again.", 0)
		return nil, false
	}
	return f, true
}

// carriedRequest checks the authorization request a form carried, as the
// authorization endpoint did; a refusal is answered as the endpoint would.
func (s *server) carriedRequest(w http.ResponseWriter, r *http.Request, raw string) (*authzRequest, bool) {
	q, e := parseAuthzQuery(raw)
	if e == nil {
		var req *authzRequest
		if req, e = s.checkAuthz(r, q); e == nil {
			return req, true
		}
		s.authzFail(w, r, req, e)
		return nil, false
	}
	s.authzFail(w, r, nil, e)
	return nil, false
}

// renderForbidden answers a form whose CSRF token is missing, wrong or
// stale: 403, and nothing done.
func (s *server) renderForbidden(w http.ResponseWriter, r *http.Request) {
	s.renderError(w, r, http.StatusForbidden, "Form expired",
		"This form has expired, or it was not sent from Rotor's own page.",
		"Go back to the application you came from and sign in again.", 0)
}
