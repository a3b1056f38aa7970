package idp

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rotor-idp/rotor/keys"
)

// Grant types Rotor implements (RFC 6749 §4.3, §4.4, §6).
const (
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password"
	GrantRefreshToken      = "refresh_token"
)

// tokenResponse is RFC 6749 §5.1.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	IDToken      string `json:"id_token,omitempty"` // OpenID Connect Core §3.1.3.3
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
	// Public clients may use the code, password and refresh grants; the
	// client credentials grant is for confidential clients only (RFC 6749
	// §4.4).
	c, err := s.authenticateClient(r, f, grant != GrantClientCredentials)
	if err != nil {
		return nil, err
	}
	var run func(*http.Request, form, Client) (*tokenResponse, error)
	switch grant {
	case GrantClientCredentials:
		run = s.grantClientCredentials
	case GrantPassword:
		run = s.grantPassword
	case GrantRefreshToken:
		run = s.grantRefreshToken
	case GrantAuthorizationCode:
		run = s.grantAuthorizationCode
	default:
		return nil, errUnsupportedGrantType()
	}
	if !slices.Contains(c.GrantTypes, grant) {
		return nil, errUnauthorizedClient("the client may not use this grant type")
	}
	return run(r, f, c)
}

// accessClaims are an RFC 9068 access token's claims.
type accessClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience audience `json:"aud"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	AuthTime int64    `json:"auth_time,omitempty"`
	JTI      string   `json:"jti"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
}

// audience marshals as a string when there is one value and as an array
// otherwise (RFC 7519 §4.1.3), and reads either.
type audience []string

func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// signer returns the key that signs the client's access tokens: its own
// algorithm or the server default. It is fetched before any state changes, so
// a missing key fails the request before a refresh token is spent.
func (s *server) signer(c Client) (*keys.SigningKey, error) {
	alg := keys.Alg(c.TokenAlg)
	if alg == "" {
		alg = s.cfg.DefaultAlg
	}
	k, ok := s.keys.Snapshot().Signer(alg)
	if !ok {
		return nil, errUnavailable(errors.New("no current signing key for " + string(alg)))
	}
	return k, nil
}

// mint signs an RFC 9068 access token for sub and returns the token response
// around it.
func (s *server) mint(k *keys.SigningKey, c Client, sub string, scope []string, authTime, now time.Time) (*tokenResponse, error) {
	scopeStr := strings.Join(scope, " ")
	claims := accessClaims{
		Issuer:   s.cfg.Issuer,
		Subject:  sub,
		Audience: audience(c.Audiences),
		Expiry:   now.Add(s.cfg.AccessTokenTTL).Unix(),
		IssuedAt: now.Unix(),
		JTI:      randomID(),
		ClientID: c.ID,
		Scope:    scopeStr,
	}
	if !authTime.IsZero() {
		claims.AuthTime = authTime.Unix()
	}
	payload, err := json.Marshal(&claims)
	if err != nil {
		return nil, errServer(err)
	}
	tok, err := k.Sign(payload)
	if err != nil {
		return nil, errServer(err)
	}
	return &tokenResponse{
		AccessToken: tok,
		TokenType:   "Bearer",
		ExpiresIn:   int64(s.cfg.AccessTokenTTL / time.Second),
		Scope:       scopeStr,
	}, nil
}

// grantClientCredentials is RFC 6749 §4.4: the client acts for itself, so sub
// is its id, and no refresh token is issued (§4.4.3).
func (s *server) grantClientCredentials(r *http.Request, f form, c Client) (*tokenResponse, error) {
	scope, err := grantScope(f.get("scope"), c.Scopes)
	if err != nil {
		return nil, err
	}
	k, err := s.signer(c)
	if err != nil {
		return nil, err
	}
	return s.mint(k, c, c.ID, scope, time.Time{}, s.now())
}

// randomID returns 128 random bits, base64url: jti values and record ids.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
