package idp

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/rotor-idp/rotor/internal/dpop"
	"github.com/rotor-idp/rotor/keys"
)

// Grant types Rotor implements (RFC 6749 §4.3, §4.4, §6); the
// authorization code grant (§4.1) is GrantAuthorizationCode.
const (
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password"
	GrantRefreshToken      = "refresh_token"
)

// grantTypes are the grants Rotor implements: what a client may be given and
// what the metadata announces. Each has its own grant_*.go file.
var grantTypes = []string{GrantAuthorizationCode, GrantClientCredentials, GrantPassword, GrantRefreshToken}

// tokenResponse is RFC 6749 §5.1.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	IDToken      string `json:"id_token,omitempty"` // OpenID Connect Core §3.1.3.3

	// What metrics and the audit log say about the token; never sent.
	alg                     keys.Alg
	kid, jti, sub, clientID string
}

// handleToken is the token endpoint (RFC 6749 §3.2).
func (s *server) handleToken(w http.ResponseWriter, r *http.Request) {
	if s.cfg.DPoPNonce {
		// A fresh nonce on every answer, so a client never needs a failed
		// request to learn it (RFC 9449 §8.2).
		w.Header().Set(dpop.NonceName, s.nonces.current(s.now()))
	}
	resp, grant, err := s.token(w, r)
	if err != nil {
		s.metrics.tokenError(asOAuthError(err).Code)
		s.writeError(w, r, err)
		return
	}
	s.tokenIssued(r, grant, resp)
	writeAppended(w, http.StatusOK, resp.appendJSON)
}

// appendJSON appends the response as the JSON object encoding/json would
// write for it (a test holds the two equal), without reflection.
func (t *tokenResponse) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"access_token":`...)
	dst = appendJSONString(dst, t.AccessToken)
	dst = append(dst, `,"token_type":`...)
	dst = appendJSONString(dst, t.TokenType)
	dst = append(dst, `,"expires_in":`...)
	dst = strconv.AppendInt(dst, t.ExpiresIn, 10)
	if t.RefreshToken != "" {
		dst = append(dst, `,"refresh_token":`...)
		dst = appendJSONString(dst, t.RefreshToken)
	}
	if t.Scope != "" {
		dst = append(dst, `,"scope":`...)
		dst = appendJSONString(dst, t.Scope)
	}
	if t.IDToken != "" {
		dst = append(dst, `,"id_token":`...)
		dst = appendJSONString(dst, t.IDToken)
	}
	return append(dst, '}')
}

// token answers a token request; grant is the grant type it used.
func (s *server) token(w http.ResponseWriter, r *http.Request) (_ *tokenResponse, grant string, _ error) {
	f, err := s.parseForm(w, r)
	if err != nil {
		return nil, "", err
	}
	grant = f.get("grant_type")
	if grant == "" {
		return nil, "", errInvalidRequest("grant_type is required")
	}
	resp, err := s.grant(r, f, grant)
	return resp, grant, err
}

// grant authenticates the client and runs the grant it asked for.
func (s *server) grant(r *http.Request, f form, grant string) (*tokenResponse, error) {
	// Public clients may use the code, password and refresh grants; the
	// client credentials grant is for confidential clients only (RFC 6749
	// §4.4).
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
	jkt, err := s.tokenProof(r, c)
	if err != nil {
		return nil, err
	}
	switch grant {
	case GrantClientCredentials:
		return s.grantClientCredentials(r, f, c, jkt)
	case GrantPassword:
		return s.grantPassword(r, f, c, jkt)
	case GrantRefreshToken:
		return s.grantRefreshToken(r, f, c, jkt)
	case GrantAuthorizationCode:
		return s.grantAuthorizationCode(r, f, c, jkt)
	}
	// A stored client may list a grant this version no longer implements.
	return nil, errUnsupportedGrantType()
}
