package idp

import (
	"errors"
	"net/http"
	"slices"
	"time"
)

// The steps of a browser sign-in, shared by the authorization endpoint
// (authorize_handler.go), the login form (login.go) and the consent form
// (consent.go): with a checked request and the browser's session (if any),
// continue decides what comes next: the login page, the consent page, an
// error for prompt=none, or the code.

// continueSignIn runs the next step for req. fresh says the user has just
// entered their password in this request, which satisfies prompt=login and
// max_age; consented says they have just allowed the request on the consent
// page.
func (s *server) continueSignIn(w http.ResponseWriter, r *http.Request, req *authzRequest, se *Session, fresh, consented bool, now time.Time) {
	if se == nil || !fresh && req.needsLogin(se, now) {
		if req.prompt.none {
			// OIDC Core §3.1.2.6: the user would have to sign in.
			s.authzFail(w, r, req, authzRedirectError("login_required", "the user is not signed in"))
			return
		}
		s.showLogin(w, r, req, http.StatusOK, "", req.loginHint)
		return
	}
	if !consented && !req.client.FirstParty {
		need, err := s.needsConsent(r, req, se)
		if err != nil {
			s.renderFailure(w, r, err)
			return
		}
		if need {
			if req.prompt.none {
				s.authzFail(w, r, req, authzRedirectError("consent_required", "the user has not consented to this request"))
				return
			}
			s.showConsent(w, r, req, se)
			return
		}
	}
	s.issueCode(w, r, req, se, now)
}

// needsLogin reports whether the session cannot be used for req without a
// password: prompt=login, or an authentication older than max_age (OIDC
// Core §3.1.2.1).
func (req *authzRequest) needsLogin(se *Session, now time.Time) bool {
	if req.prompt.login {
		return true
	}
	return req.maxAge >= 0 && now.Sub(se.AuthTime) > time.Duration(req.maxAge)*time.Second
}

// needsConsent reports whether a third-party client needs the user's
// consent for req: always with prompt=consent, otherwise unless the user
// has already granted every requested scope.
func (s *server) needsConsent(r *http.Request, req *authzRequest, se *Session) (bool, error) {
	if req.prompt.consent {
		return true, nil
	}
	c, err := s.consents.Consent(r.Context(), se.UserID, req.client.ID)
	if errors.Is(err, ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	for _, sc := range req.scope {
		if !slices.Contains(c.Scopes, sc) {
			return true, nil
		}
	}
	return false, nil
}
