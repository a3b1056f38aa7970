package idp

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/rotor-idp/rotor/internal/dpop"
)

// introspection is an RFC 7662 §2.2 response.
type introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	Expiry    int64    `json:"exp,omitempty"`
	IssuedAt  int64    `json:"iat,omitempty"`
	Subject   string   `json:"sub,omitempty"`
	Audience  audience `json:"aud,omitempty"`
	Issuer    string   `json:"iss,omitempty"`
	JTI       string   `json:"jti,omitempty"`
	Cnf       *cnf     `json:"cnf,omitempty"` // RFC 9449 §6.2: the DPoP key the token is bound to
}

var inactive = &introspection{Active: false}

// handleIntrospect is RFC 7662. Only confidential clients may call it (§2.1
// requires authorisation, and §4 warns against token scanning). Access tokens
// are checked against the key ring. What a caller may learn depends on it
// (§2.2): a client registered with Introspect (a resource server) learns
// about any access token; every other client only about its own access and
// refresh tokens, so a client_credentials service cannot read users' tokens'
// sub and scope. A refresh token is active only for the client it was issued
// to. Everything else is {"active":false}.
func (s *server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	resp, err := s.introspect(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.metrics.introspected(resp.Active)
	writeJSON(w, http.StatusOK, resp)
}

func (s *server) introspect(w http.ResponseWriter, r *http.Request) (*introspection, error) {
	f, err := s.parseForm(w, r)
	if err != nil {
		return nil, err
	}
	c, err := s.authenticateClient(r, f, false)
	if err != nil {
		return nil, err
	}
	tok := f.get("token")
	if tok == "" {
		return nil, errInvalidRequest("token is required")
	}
	now := s.now()
	if strings.HasPrefix(tok, RefreshTokenPrefix) {
		return s.introspectRefresh(r, c, tok, now)
	}
	resp := s.introspectAccess(tok, now)
	if resp.Active && resp.ClientID != c.ID && !c.Introspect {
		return inactive, nil
	}
	return resp, nil
}

func (s *server) introspectRefresh(r *http.Request, c Client, tok string, now time.Time) (*introspection, error) {
	hash, ok := refreshTokenHash(tok)
	if !ok {
		return inactive, nil
	}
	st, err := s.refresh.LookupRefresh(r.Context(), hash)
	if errors.Is(err, ErrNotFound) {
		return inactive, nil
	}
	if err != nil {
		return nil, storeError(err)
	}
	fam := st.Family
	if fam.ClientID != c.ID || !fam.RevokedAt.IsZero() || !st.Token.SpentAt.IsZero() || !now.Before(fam.ExpiresAt) {
		return inactive, nil
	}
	in := &introspection{
		Active: true, Scope: fam.Scope, ClientID: fam.ClientID, Subject: fam.Subject, Issuer: s.cfg.Issuer,
		Expiry: fam.ExpiresAt.Unix(), IssuedAt: st.Token.IssuedAt.Unix(),
	}
	if fam.JKT != "" {
		in.Cnf = &cnf{JKT: fam.JKT}
	}
	return in, nil
}

func (s *server) introspectAccess(tok string, now time.Time) *introspection {
	if len(tok) > 16<<10 {
		return inactive
	}
	payload, _, err := s.keys.Snapshot().Verify(tok, now)
	if err != nil {
		return inactive
	}
	var cl accessClaims
	if err := json.Unmarshal(payload, &cl); err != nil {
		return inactive
	}
	if cl.Issuer != s.cfg.Issuer || now.Unix() >= cl.Expiry {
		return inactive
	}
	in := &introspection{
		Active: true, Scope: cl.Scope, ClientID: cl.ClientID, TokenType: "Bearer", Expiry: cl.Expiry,
		IssuedAt: cl.IssuedAt, Subject: cl.Subject, Audience: cl.Audience, Issuer: cl.Issuer, JTI: cl.JTI,
	}
	if cl.Cnf != nil {
		in.TokenType, in.Cnf = dpop.TokenType, cl.Cnf
	}
	return in
}
