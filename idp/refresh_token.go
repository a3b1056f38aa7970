package idp

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"
)

// RefreshTokenPrefix starts every Rotor refresh token, so secret scanners and
// humans can tell one apart from an access token.
const RefreshTokenPrefix = "rtr_"

// refreshTokenLen is the prefix plus 32 random bytes (256 bits), base64url.
var refreshTokenLen = len(RefreshTokenPrefix) + base64.RawURLEncoding.EncodedLen(32)

// newRefreshToken returns a fresh opaque refresh token and its SHA-256, which
// is all the store keeps.
func newRefreshToken() (token string, hash []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	token = RefreshTokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(token))
	return token, sum[:]
}

// refreshTokenHash checks the shape of a presented refresh token and returns
// its hash; malformed tokens never reach the store.
func refreshTokenHash(tok string) ([]byte, bool) {
	if len(tok) != refreshTokenLen || !strings.HasPrefix(tok, RefreshTokenPrefix) {
		return nil, false
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(tok[len(RefreshTokenPrefix):]); err != nil {
		return nil, false
	}
	sum := sha256.Sum256([]byte(tok))
	return sum[:], true
}

// newFamily starts a refresh-token family for a fresh grant, bound to the
// DPoP key jkt unless it is "", and returns its first token.
func (s *server) newFamily(r *http.Request, c Client, u User, scope string, now time.Time, jkt string) (string, error) {
	tok, hash := newRefreshToken()
	fam := Family{
		ID: randomID(), ClientID: c.ID, Subject: u.ID, Scope: scope, CredentialVersion: u.CredentialVersion,
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTokenTTL), JKT: jkt,
	}
	err := s.refresh.CreateFamily(r.Context(), fam, RefreshToken{Hash: hash, FamilyID: fam.ID, IssuedAt: now})
	if errors.Is(err, ErrRevoked) {
		// The user was disabled or their password changed while this
		// grant checked the old one.
		return "", errBadLogin
	}
	if err != nil {
		return "", storeError(err)
	}
	s.limitFamilies(r, c.ID, u.ID, now)
	return tok, nil
}

// limitFamilies revokes the oldest live families of the user and client
// beyond Config.MaxFamiliesPerUserClient, after a new one was created. The
// new family is already stored and its token about to be sent, so a failure
// here only logs: the next family tries again.
func (s *server) limitFamilies(r *http.Request, clientID, sub string, now time.Time) {
	keep := s.cfg.MaxFamiliesPerUserClient
	if keep < 0 {
		return
	}
	n, err := s.refresh.LimitFamilies(r.Context(), sub, clientID, keep, now)
	switch {
	case err != nil:
		s.log.Warn("capping refresh-token families failed", "client_id", clientID, "error", err.Error())
	case n > 0:
		s.log.Info("revoked the oldest refresh-token families beyond the cap",
			"client_id", clientID, "user_id", sub, "count", n, "cap", keep)
		s.familyLimitObserved(r, clientID, sub, n)
	}
}
