package idp

import (
	"net/http"
	"time"
)

// grantClientCredentials is RFC 6749 §4.4: the client acts for itself, so sub
// is its id, and no refresh token is issued (§4.4.3).
func (s *server) grantClientCredentials(r *http.Request, f form, c Client, jkt string) (*tokenResponse, error) {
	scope, err := grantScope(f.get("scope"), c.Scopes)
	if err != nil {
		return nil, err
	}
	k, err := s.signer(c)
	if err != nil {
		return nil, err
	}
	return s.mint(k, c, c.ID, scope, time.Time{}, s.now(), jkt)
}
