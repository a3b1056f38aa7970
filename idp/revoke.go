package idp

import (
	"errors"
	"net/http"
	"strings"
)

// handleRevoke is RFC 7009. A refresh token revokes its whole family. Access
// tokens are self-contained JWTs that live minutes, and resource servers never
// call back, so revoking a valid one is answered unsupported_token_type
// (§2.2.1). Invalid tokens (anything else, whatever its shape, such as
// "a.b.c" or an expired access token), unknown tokens, and tokens of another
// client get 200 and change nothing (§2.2): the answer never tells a client
// whether someone else's token exists.
func (s *server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	clientID, familyID, err := s.revoke(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.revokeObserved(r, clientID, familyID)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// revoke answers a revocation request; familyID is the family it revoked,
// "" when the token revoked nothing.
func (s *server) revoke(w http.ResponseWriter, r *http.Request) (clientID, familyID string, _ error) {
	f, err := s.parseForm(w, r)
	if err != nil {
		return "", "", err
	}
	c, err := s.authenticateClient(r, f, true) // §2.1: public clients revoke with client_id
	if err != nil {
		return "", "", err
	}
	tok := f.get("token")
	if tok == "" {
		return c.ID, "", errInvalidRequest("token is required")
	}
	if looksLikeJWT(tok) {
		if resp := s.introspectAccess(tok, s.now()); !resp.Active || resp.ClientID != c.ID {
			return c.ID, "", nil // invalid, or another client's: nothing to say
		}
		return c.ID, "", &oauthError{Code: "unsupported_token_type", Description: "access tokens cannot be revoked; they expire on their own", Status: http.StatusBadRequest}
	}
	hash, ok := refreshTokenHash(tok)
	if !ok {
		return c.ID, "", nil
	}
	st, err := s.refresh.LookupRefresh(r.Context(), hash)
	if errors.Is(err, ErrNotFound) {
		return c.ID, "", nil
	}
	if err != nil {
		return c.ID, "", storeError(err)
	}
	if st.Family.ClientID != c.ID {
		return c.ID, "", nil
	}
	if err := s.refresh.RevokeFamily(r.Context(), st.Family.ID, "revoked_by_client", s.now()); err != nil && !errors.Is(err, ErrNotFound) {
		return c.ID, "", storeError(err)
	}
	return c.ID, st.Family.ID, nil
}

// looksLikeJWT reports whether tok has the shape of a compact JWS.
func looksLikeJWT(tok string) bool {
	return strings.Count(tok, ".") == 2 && !strings.HasPrefix(tok, RefreshTokenPrefix)
}
