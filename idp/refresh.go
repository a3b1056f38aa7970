package idp

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
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

// newFamily starts a refresh-token family for a fresh grant and returns its
// first token.
func (s *server) newFamily(r *http.Request, c Client, sub, scope string, now time.Time) (string, error) {
	tok, hash := newRefreshToken()
	fam := Family{
		ID: randomID(), ClientID: c.ID, Subject: sub, Scope: scope,
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTokenTTL),
	}
	if err := s.refresh.CreateFamily(r.Context(), fam, RefreshToken{Hash: hash, FamilyID: fam.ID, IssuedAt: now}); err != nil {
		return "", storeError(err)
	}
	return tok, nil
}

// Why a refresh was refused; logged, never sent (the client always gets the
// same invalid_grant).
var (
	errRefreshWrongClient = errors.New("refresh token belongs to another client")
	errRefreshRevoked     = errors.New("refresh token family is revoked")
	errRefreshExpired     = errors.New("refresh token family has expired")
	errRefreshReused      = errors.New("spent refresh token presented again; family revoked")
)

// refreshRequest is what decideRefresh needs to know about the request.
type refreshRequest struct {
	clientID      string
	scope         []string // requested; nil keeps the family's
	now           time.Time
	reuseInterval time.Duration
	newHash       []byte // the successor, generated before the transaction
}

// decideRefresh is the refresh-token rule book, a pure function of the state
// read under the family lock and the request. It returns the change to apply
// and why the refresh is refused, if it is:
//   - the token is bound to its client (RFC 6749 §6, §10.4);
//   - a revoked or expired family refreshes nothing, and rotation never extends
//     the family's absolute expiry;
//   - an unspent token is spent and replaced (RFC 9700 §4.14.2 rotation);
//   - a spent token presented again revokes the whole family (reuse detection),
//     unless it comes within the reuse interval and its replacement is still
//     unused, which is a client retrying a lost response: the unused
//     replacement is spent and another one issued, so one token stays live;
//   - the scope may narrow, never widen (RFC 6749 §6).
func decideRefresh(st RefreshState, req refreshRequest) (RefreshUpdate, error) {
	fam, tok := st.Family, st.Token
	switch {
	case fam.ClientID != req.clientID:
		return RefreshUpdate{}, errRefreshWrongClient
	case !fam.RevokedAt.IsZero():
		return RefreshUpdate{}, errRefreshRevoked
	case !req.now.Before(fam.ExpiresAt):
		return RefreshUpdate{}, errRefreshExpired
	}
	if req.scope != nil {
		granted, _ := parseScope(fam.Scope)
		if !subset(req.scope, granted) {
			return RefreshUpdate{}, errInvalidScope("requested scope exceeds the scope of the grant")
		}
	}
	next := &RefreshToken{Hash: req.newHash, FamilyID: fam.ID, Parent: tok.Hash, IssuedAt: req.now}
	if tok.SpentAt.IsZero() {
		return RefreshUpdate{SpendToken: req.now, Issue: next}, nil
	}
	if retry := st.Successor; retry != nil && retry.SpentAt.IsZero() && req.reuseInterval > 0 &&
		req.now.Sub(tok.SpentAt) <= req.reuseInterval {
		return RefreshUpdate{SpendSuccessor: req.now, Issue: next}, nil
	}
	return RefreshUpdate{RevokeAt: req.now, RevokeReason: "refresh_token_reuse"}, errRefreshReused
}

// grantRefreshToken is RFC 6749 §6 with rotation and reuse detection.
func (s *server) grantRefreshToken(r *http.Request, f form, c Client) (*tokenResponse, error) {
	presented := f.get("refresh_token")
	if presented == "" {
		return nil, errInvalidRequest("refresh_token is required")
	}
	var scope []string
	if raw := f.get("scope"); raw != "" {
		var ok bool
		if scope, ok = parseScope(raw); !ok {
			return nil, errInvalidScope("scope is malformed")
		}
	}
	hash, ok := refreshTokenHash(presented)
	if !ok {
		return nil, errBadRefresh
	}
	k, err := s.signer(c)
	if err != nil {
		return nil, err
	}

	now := s.now()
	newTok, newHash := newRefreshToken()
	req := refreshRequest{clientID: c.ID, scope: scope, now: now, reuseInterval: s.cfg.RefreshReuseInterval, newHash: newHash}
	var (
		fam     Family
		refused error
	)
	err = s.refresh.UseRefresh(r.Context(), hash, func(st RefreshState) (RefreshUpdate, error) {
		fam = st.Family
		var u RefreshUpdate
		u, refused = decideRefresh(st, req)
		return u, nil
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, errBadRefresh
	case err != nil:
		return nil, storeError(err)
	case refused != nil:
		var oe *oauthError
		if errors.As(refused, &oe) {
			return nil, oe
		}
		level := slog.LevelInfo
		if errors.Is(refused, errRefreshReused) {
			level = slog.LevelWarn
		}
		s.log.LogAttrs(r.Context(), level, "refresh refused", slog.String("reason", refused.Error()),
			slog.String("family_id", fam.ID), slog.String("client_id", c.ID))
		return nil, errBadRefresh
	}

	if scope == nil {
		scope, _ = parseScope(fam.Scope)
	}
	resp, err := s.mint(k, c, fam.Subject, scope, fam.AuthTime, now)
	if err != nil {
		return nil, err
	}
	resp.RefreshToken = newTok
	return resp, nil
}

// errBadRefresh is the one answer to every refused refresh token.
var errBadRefresh = errInvalidGrant("refresh token is invalid, expired or revoked")
