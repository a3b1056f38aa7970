package idp

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/rotor-idp/rotor/internal/dpop"
)

// userInfo is the UserInfo response (OpenID Connect Core §5.3.2): sub
// always, and the standard claims (§5.1) that the token's scopes release
// (§5.4): profile gives preferred_username and name, email gives email and
// email_verified. Claims the user has no value for are left out.
type userInfo struct {
	Subject           string `json:"sub"`
	PreferredUsername string `json:"preferred_username,omitempty"`
	Name              string `json:"name,omitempty"`
	Email             string `json:"email,omitempty"`
	EmailVerified     *bool  `json:"email_verified,omitempty"`
}

// bearerError is an RFC 6750 §3 answer: the status and the challenge.
type bearerError struct {
	status int
	code   string // "" for a request without a token (§3.1: no error code)
	desc   string
	dpop   bool // challenge with the DPoP scheme (RFC 9449 §7.1)
}

func (e *bearerError) Error() string { return e.code + ": " + e.desc }

// handleUserInfo is the UserInfo endpoint. The access token must be one
// Rotor signed (checked against its own key ring, the strict verifier),
// unexpired, for this issuer, with scope openid, and its user must exist
// and be enabled.
func (s *server) handleUserInfo(w http.ResponseWriter, r *http.Request) {
	info, berr, err := s.userInfo(w, r)
	switch {
	case err != nil:
		s.writeError(w, r, err)
	case berr != nil:
		writeBearerError(w, berr)
	default:
		body, _ := json.Marshal(info)
		writeJSONBytes(w, http.StatusOK, body)
	}
}

func (s *server) userInfo(w http.ResponseWriter, r *http.Request) (*userInfo, *bearerError, error) {
	tok, dpopScheme, berr := s.bearerToken(w, r)
	if berr != nil {
		return nil, berr, nil
	}
	now := s.now()
	payload, _, err := s.keys.Snapshot().Verify(tok, now)
	if err != nil {
		return nil, invalidToken("the access token is invalid"), nil
	}
	var cl accessClaims
	if err := json.Unmarshal(payload, &cl); err != nil || cl.Issuer != s.cfg.Issuer || cl.Subject == "" {
		return nil, invalidToken("the access token is invalid"), nil
	}
	if now.Unix() >= cl.Expiry {
		return nil, invalidToken("the access token has expired"), nil
	}
	if berr, err := s.userInfoProof(r, tok, dpopScheme, cl.Cnf); berr != nil || err != nil {
		return nil, berr, err
	}
	scope := strings.Fields(cl.Scope)
	if !slices.Contains(scope, ScopeOpenID) {
		return nil, &bearerError{status: http.StatusForbidden, code: "insufficient_scope", desc: "the access token lacks the openid scope"}, nil
	}
	u, err := s.users.UserByID(r.Context(), cl.Subject)
	if errors.Is(err, ErrNotFound) || err == nil && u.Disabled {
		return nil, invalidToken("the access token is invalid"), nil
	}
	if err != nil {
		return nil, nil, storeError(err)
	}
	info := &userInfo{Subject: u.ID}
	if slices.Contains(scope, ScopeProfile) {
		info.PreferredUsername, info.Name = u.Name, u.DisplayName
	}
	if slices.Contains(scope, ScopeEmail) && u.Email != "" {
		verified := u.EmailVerified
		info.Email, info.EmailVerified = u.Email, &verified
	}
	return info, nil, nil
}

func invalidToken(desc string) *bearerError {
	return &bearerError{status: http.StatusUnauthorized, code: "invalid_token", desc: desc}
}

// bearerToken reads the access token from the Authorization header (Bearer
// or DPoP scheme, RFC 9449 §7.1) or, for a POST, the access_token form field
// (RFC 6750 §2.1, §2.2); a token in both places, or in a malformed header,
// is invalid_request (§3.1). It reports whether the DPoP scheme was used.
func (s *server) bearerToken(w http.ResponseWriter, r *http.Request) (string, bool, *bearerError) {
	badRequest := func(desc string) *bearerError {
		return &bearerError{status: http.StatusBadRequest, code: "invalid_request", desc: desc}
	}
	var fromHeader, fromBody string
	var dpopScheme bool
	switch auth := r.Header.Values("Authorization"); {
	case len(auth) > 1:
		return "", false, badRequest("more than one Authorization header")
	case len(auth) == 1:
		scheme, tok, ok := strings.Cut(auth[0], " ")
		dpopScheme = strings.EqualFold(scheme, dpop.TokenType)
		if !ok || !strings.EqualFold(scheme, "Bearer") && !dpopScheme || strings.TrimSpace(tok) == "" {
			return "", false, badRequest("the Authorization header is not a Bearer or DPoP token")
		}
		fromHeader = strings.TrimSpace(tok)
	}
	if r.Method == http.MethodPost && r.ContentLength != 0 {
		f, err := s.parseForm(w, r)
		if err != nil {
			return "", false, badRequest("the body must be a form")
		}
		fromBody = f.get("access_token")
	}
	switch {
	case fromHeader != "" && fromBody != "":
		return "", false, badRequest("the access token was sent more than once")
	case fromHeader != "":
		return fromHeader, dpopScheme, nil
	case fromBody != "":
		return fromBody, false, nil
	}
	return "", false, &bearerError{status: http.StatusUnauthorized}
}

// userInfoProof holds a DPoP-bound token to its key (RFC 9449 §7): only the
// DPoP scheme, with a fresh proof for this request by the key of cnf.jkt;
// and the DPoP scheme only for a bound token.
func (s *server) userInfoProof(r *http.Request, tok string, dpopScheme bool, c *cnf) (*bearerError, error) {
	proofErr := &bearerError{status: http.StatusUnauthorized, code: "invalid_dpop_proof", desc: "the DPoP proof is invalid", dpop: true}
	switch {
	case c == nil && !dpopScheme:
		return nil, nil
	case c == nil || !dpopScheme:
		return &bearerError{status: http.StatusUnauthorized, code: "invalid_token", desc: "the access token is invalid", dpop: true}, nil
	}
	vals := r.Header.Values(dpop.HeaderName)
	if len(vals) != 1 {
		return proofErr, nil
	}
	now := s.now()
	p, err := s.dpop.Check(vals[0], dpop.Request{Method: r.Method, URI: s.userInfoURL, AccessToken: tok, Now: now})
	if err != nil || p.JKT != c.JKT {
		return proofErr, nil
	}
	fresh, err := s.replay.UseOnce(r.Context(), replayKey("dpop", p.JKT, p.JTI), p.Expires, now)
	if err != nil {
		return nil, storeError(err)
	}
	if !fresh {
		return proofErr, nil
	}
	return nil, nil
}

// writeBearerError writes an RFC 6750 §3 error: the WWW-Authenticate
// challenge and, with an error code, a JSON body saying the same.
func writeBearerError(w http.ResponseWriter, e *bearerError) {
	ch := `Bearer realm="rotor"`
	if e.dpop {
		ch = `DPoP algs="` + strings.Join(dpop.DefaultAlgs, " ") + `"`
	}
	if e.code != "" {
		ch += `, error="` + e.code + `", error_description="` + e.desc + `"`
		if e.code == "insufficient_scope" {
			ch += `, scope="openid"`
		}
	}
	w.Header().Set("WWW-Authenticate", ch)
	if e.code == "" {
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(e.status)
		return
	}
	body := appendJSONString([]byte(`{"error":`), e.code)
	body = appendJSONString(append(body, `,"error_description":`...), e.desc)
	writeJSONBytes(w, e.status, append(body, '}'))
}
