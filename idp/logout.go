package idp

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// RP-Initiated Logout 1.0 at the end_session_endpoint. A client sends the
// browser here with id_token_hint (an ID token Rotor issued, expired or
// not), client_id, post_logout_redirect_uri and state. Rotor ends the
// browser's session, which revokes the refresh tokens issued in it
// (SessionStore.EndSession), and sends the browser back to the
// post_logout_redirect_uri if it is registered for the client (matched as
// redirect URIs are, never an open redirect), else shows a signed-out page.
// Without a valid hint for the signed-in user, the user is asked first: a
// link on another site must not sign people out silently.

// logoutRequest is a checked logout request.
type logoutRequest struct {
	client   *Client // from client_id or the hint; nil if neither
	redirect string  // a registered post_logout_redirect_uri; "" for the page
	state    string
	hint     *idClaims // a valid id_token_hint, else nil
	carried  url.Values
}

// logoutPage is the confirmation form's data.
type logoutPage struct {
	pageData
	ClientName string
	Action     string
	CSRF       string
	Hidden     []hiddenField
}

type hiddenField struct{ Name, Value string }

func (s *server) handleLogout(w http.ResponseWriter, r *http.Request) {
	q, ok := s.logoutParams(w, r)
	if !ok {
		return
	}
	now := s.now()
	lr, msg := s.checkLogout(r, q, now)
	if msg != "" {
		s.renderError(w, r, http.StatusBadRequest, "Cannot sign out", msg, "Close this window, or go back to the application.", 0)
		return
	}
	se, err := s.currentSession(r, now)
	if err != nil {
		s.renderFailure(w, r, err)
		return
	}
	switch {
	case q.Has("csrf_token"):
		// The confirmation form was submitted.
		if se != nil && !s.forms.check(q.Get("csrf_token"), lr.binding(cookieValue(r, s.cookies.csrf), se.ID), now) {
			s.renderForbidden(w, r)
			return
		}
	case se == nil:
		// Nothing to end here; a hint's session ends all the same.
	case lr.hint == nil || lr.hint.Subject != se.UserID:
		s.confirmLogout(w, r, lr, se, now)
		return
	}
	if err := s.endSessions(w, r, se, lr.hint, now); err != nil {
		s.renderFailure(w, r, err)
		return
	}
	if lr.redirect == "" {
		s.render(w, r, http.StatusOK, pageLoggedOut, &pageData{Title: "Signed out"})
		return
	}
	target := lr.redirect
	if lr.state != "" {
		target = appendQuery(target, url.Values{"state": {lr.state}})
	}
	h := w.Header()
	h.Set("Location", target)
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusSeeOther)
}

// logoutParams reads the query of a GET or the form of a POST; a repeated
// parameter gets the error page.
func (s *server) logoutParams(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if r.Method == http.MethodPost {
		return s.pageForm(w, r)
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	for _, vs := range q {
		if len(vs) > 1 {
			err = errors.New("repeated")
		}
	}
	if err != nil || len(r.URL.RawQuery) > maxRequestLen {
		s.renderError(w, r, http.StatusBadRequest, "Cannot sign out", "The sign-out request is malformed.", "Close this window, or go back to the application.", 0)
		return nil, false
	}
	return q, true
}

// checkLogout checks the parameters (RP-Initiated Logout 1.0 §2, §3). It
// returns a message for the error page when the request names an unknown
// client, a client other than the hint's, or a post_logout_redirect_uri
// that is not registered for it. An invalid hint counts as none.
func (s *server) checkLogout(r *http.Request, q url.Values, now time.Time) (*logoutRequest, string) {
	lr := &logoutRequest{carried: url.Values{}}
	if raw := q.Get("id_token_hint"); raw != "" {
		lr.hint = s.verifyHint(raw, now)
	}
	id := q.Get("client_id")
	switch {
	case id != "" && lr.hint != nil && lr.hint.Audience != id:
		return nil, "The sign-out request names two different applications."
	case id == "" && lr.hint != nil:
		id = lr.hint.Audience
	}
	if id != "" {
		c, err := s.client(r, id)
		if err != nil || len(id) > maxClientIDLen {
			return nil, "The sign-out request does not name a known application."
		}
		lr.client = &c
		lr.carried.Set("client_id", id)
	}
	if uri := q.Get("post_logout_redirect_uri"); uri != "" {
		if lr.client == nil {
			// Nothing to check it against (§3): no redirect, the page.
			return lr, ""
		}
		if !MatchRedirectURI(lr.client.PostLogoutRedirectURIs, uri) {
			return nil, "The sign-out request asks to return to an address that is not registered for " + lr.client.DisplayName() + "."
		}
		lr.redirect = uri
		lr.carried.Set("post_logout_redirect_uri", uri)
		if st := q.Get("state"); st != "" && len(st) <= maxStateLen {
			lr.state = st
			lr.carried.Set("state", st)
		}
	}
	return lr, ""
}

// verifyHint returns the claims of an ID token Rotor issued, if hint is
// one: signed by a published key with typ JWT and our issuer. It may have
// expired (RP-Initiated Logout 1.0 §2).
func (s *server) verifyHint(hint string, now time.Time) *idClaims {
	payload, _, err := s.keys.Snapshot().VerifyJWT(hint, now)
	if err != nil {
		return nil
	}
	var cl idClaims
	if err := json.Unmarshal(payload, &cl); err != nil || cl.Issuer != s.cfg.Issuer || cl.Subject == "" || cl.Audience == "" {
		return nil
	}
	return &cl
}

// binding is what the confirmation form's token is bound to.
func (lr *logoutRequest) binding(cookie, sessionID string) formBinding {
	return formBinding{purpose: purposeLogout, cookie: cookie, sessionID: sessionID, request: lr.carried.Encode()}
}

// confirmLogout asks the user whether to sign out.
func (s *server) confirmLogout(w http.ResponseWriter, r *http.Request, lr *logoutRequest, se *Session, now time.Time) {
	csrf := s.csrfCookie(w, r)
	p := &logoutPage{
		pageData: pageData{Title: "Sign out"},
		Action:   s.pages.path("/oauth2/logout"),
		CSRF:     s.forms.mint(lr.binding(csrf, se.ID), now),
	}
	if lr.client != nil {
		p.ClientName = lr.client.DisplayName()
	}
	for _, name := range []string{"client_id", "post_logout_redirect_uri", "state"} {
		if v := lr.carried.Get(name); v != "" {
			p.Hidden = append(p.Hidden, hiddenField{name, v})
		}
	}
	var formAction []string
	if src := cspSource(lr.redirect); src != "" {
		formAction = append(formAction, src)
	}
	s.render(w, r, http.StatusOK, pageLogout, p, formAction...)
}

// endSessions ends the browser's session and the session the hint names
// (the one the client's sign-in came from, which a later sign-in in the
// same browser may have replaced), and deletes the session cookie.
func (s *server) endSessions(w http.ResponseWriter, r *http.Request, se *Session, hint *idClaims, now time.Time) error {
	var ids []string
	if se != nil {
		ids = append(ids, se.ID)
	}
	if hint != nil && hint.SID != "" && (se == nil || hint.SID != se.ID) {
		ids = append(ids, hint.SID)
	}
	for _, id := range ids {
		if err := s.sessions.EndSession(r.Context(), id, ReasonLogout, now); err != nil {
			return err
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "signed out", slog.String("session_id", id))
	}
	if cookieValue(r, s.cookies.session) != "" || len(r.CookiesNamed(s.cookies.session)) > 0 {
		http.SetCookie(w, s.cookies.clear(s.cookies.session))
	}
	return nil
}

// appendQuery adds params to a URI's query.
func appendQuery(target string, params url.Values) string {
	sep := "?"
	for i := 0; i < len(target); i++ {
		if target[i] == '?' {
			sep = "&"
			break
		}
	}
	return target + sep + params.Encode()
}
