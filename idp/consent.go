package idp

import (
	"errors"
	"log/slog"
	"net/http"
)

// The consent page: a third-party client (Client.FirstParty false) gets the
// user's permission for the scopes it asks for, once; the decision is
// remembered per user and client (ConsentStore) until the user or an
// operator revokes it (rotor users revoke-consent).

// consentPage is the consent form's data.
type consentPage struct {
	pageData
	ClientName string
	UserName   string
	Scopes     []scopeText
	Action     string
	Request    string
	CSRF       string
	Logout     string
}

// scopeText is one line of the consent page: a description for the scopes
// Rotor knows, the scope itself otherwise.
type scopeText struct {
	Name, Text string
	Raw        bool
}

// scopeDescriptions are the consent page's words for OpenID Connect's
// scopes (Core §5.4, §11).
var scopeDescriptions = map[string]string{
	ScopeOpenID:        "Know who you are (your Rotor account ID)",
	ScopeProfile:       "See your username and name",
	ScopeEmail:         "See your email address",
	ScopeOfflineAccess: "Stay signed in to your account when you are not using it",
}

func describeScopes(scope []string) []scopeText {
	out := make([]scopeText, 0, len(scope))
	for _, sc := range scope {
		if d, ok := scopeDescriptions[sc]; ok {
			out = append(out, scopeText{Name: sc, Text: d})
		} else {
			out = append(out, scopeText{Name: sc, Raw: true})
		}
	}
	return out
}

// showConsent renders the consent form for req and the session's user.
func (s *server) showConsent(w http.ResponseWriter, r *http.Request, req *authzRequest, se *Session) {
	u, err := s.users.UserByID(r.Context(), se.UserID)
	if errors.Is(err, ErrNotFound) || err == nil && u.Disabled {
		s.showLogin(w, r, req, http.StatusOK, "", "")
		return
	}
	if err != nil {
		s.renderFailure(w, r, err)
		return
	}
	csrf := s.csrfCookie(w, r)
	name := u.Name
	if u.DisplayName != "" {
		name = u.DisplayName + " (" + u.Name + ")"
	}
	s.render(w, r, http.StatusOK, pageConsent, &consentPage{
		pageData:   pageData{Title: "Allow " + req.client.DisplayName() + "?"},
		ClientName: req.client.DisplayName(),
		UserName:   name,
		Scopes:     describeScopes(req.scope),
		Action:     s.pages.path("/consent"),
		Logout:     s.pages.path("/oauth2/logout"),
		Request:    req.carried(),
		CSRF:       s.forms.mint(formBinding{purpose: purposeConsent, cookie: csrf, sessionID: se.ID, request: req.carried()}, s.now()),
	}, cspSource(req.redirectURI))
}

// handleConsent takes the consent form. Allow records the consent and sends
// the code; deny sends access_denied (RFC 6749 §4.1.2.1). Without a session
// (it ended or expired meanwhile) the user signs in again.
func (s *server) handleConsent(w http.ResponseWriter, r *http.Request) {
	f, ok := s.pageForm(w, r)
	if !ok {
		return
	}
	now := s.now()
	se, err := s.currentSession(r, now)
	if err != nil {
		s.renderFailure(w, r, err)
		return
	}
	request := f.Get("request")
	if se == nil {
		if req, ok := s.carriedRequest(w, r, request); ok {
			s.continueSignIn(w, r, req, nil, false, false, now)
		}
		return
	}
	b := formBinding{purpose: purposeConsent, cookie: cookieValue(r, s.cookies.csrf), sessionID: se.ID, request: request}
	if !s.forms.check(f.Get("csrf_token"), b, now) {
		s.renderForbidden(w, r)
		return
	}
	req, ok := s.carriedRequest(w, r, request)
	if !ok {
		return
	}
	switch f.Get("decision") {
	case "allow":
		if _, err := s.consents.GrantConsent(r.Context(), se.UserID, req.client.ID, req.scope, now); err != nil {
			s.renderFailure(w, r, err)
			return
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "consent granted", slog.String("user_id", se.UserID), slog.String("client_id", req.client.ID))
		// The consent page was shown to this session after its login met
		// the request's prompt and max_age: they are not asked again.
		s.continueSignIn(w, r, req, se, true, true, now)
	case "deny":
		s.authzFail(w, r, req, authzRedirectError("access_denied", "the user denied the request"))
	default:
		s.renderError(w, r, http.StatusBadRequest, "Cannot sign in", "The form could not be read.", "Go back to the application and try again.", 0)
	}
}
