package idp

import (
	"net/http"
	"slices"
)

// Grant types Rotor implements (RFC 6749 §4.3, §4.4, §6).
const (
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password"
	GrantRefreshToken      = "refresh_token"
)

// grantTypes are the grants Rotor implements: what a client may be given and
// what the metadata announces. Each has its own grant_*.go file.
var grantTypes = []string{GrantClientCredentials, GrantPassword, GrantRefreshToken}

// tokenResponse is RFC 6749 §5.1.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// handleToken is the token endpoint (RFC 6749 §3.2).
func (s *server) handleToken(w http.ResponseWriter, r *http.Request) {
	resp, err := s.token(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *server) token(w http.ResponseWriter, r *http.Request) (*tokenResponse, error) {
	f, err := s.parseForm(w, r)
	if err != nil {
		return nil, err
	}
	grant := f.get("grant_type")
	if grant == "" {
		return nil, errInvalidRequest("grant_type is required")
	}
	// Public clients may use the password and refresh grants; the client
	// credentials grant is for confidential clients only (RFC 6749 §4.4).
	c, err := s.authenticateClient(r, f, grant != GrantClientCredentials)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(c.GrantTypes, grant) {
		if !slices.Contains(grantTypes, grant) {
			return nil, errUnsupportedGrantType()
		}
		return nil, errUnauthorizedClient("the client may not use this grant type")
	}
	switch grant {
	case GrantClientCredentials:
		return s.grantClientCredentials(r, f, c)
	case GrantPassword:
		return s.grantPassword(r, f, c)
	case GrantRefreshToken:
		return s.grantRefreshToken(r, f, c)
	}
	// A stored client may list a grant this version no longer implements.
	return nil, errUnsupportedGrantType()
}
