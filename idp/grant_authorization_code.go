package idp

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Why a code exchange was refused; logged, never sent (the client gets the
// same invalid_grant for each).
var (
	errCodeUnknown  = errors.New("no such code for this client")
	errPKCEMismatch = errors.New("code_verifier does not match the code_challenge")
	errRedirectURI  = errors.New("redirect_uri differs from the authorization request's")
)

// errBadCode is the one answer to every refused code.
var errBadCode = errInvalidGrant("authorization code is invalid, expired, used or revoked, or the code_verifier or redirect_uri does not match")

// grantAuthorizationCode is RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.5, §4.6):
// the code is redeemed once, and the refresh-token family started, in one
// store transaction (CodeStore.ExchangeCode); a second redemption revokes the
// code and everything issued from it (RFC 6749 §4.1.2). The verifier and
// redirect_uri are checked after the redemption, so a request that fails
// them has used the code up: a stolen code tried with a guessed verifier is
// burned, not left for more guesses.
//
// It issues an access token; an ID token when the scope has openid; and a
// refresh token when the client may use the refresh_token grant and, for an
// OpenID Connect request, the scope has offline_access or the client is
// first-party (see issuesRefresh).
func (s *server) grantAuthorizationCode(r *http.Request, f form, c Client, jkt string) (*tokenResponse, error) {
	code, verifier := f.get("code"), f.get("code_verifier")
	switch {
	case code == "":
		return nil, errInvalidRequest("code is required")
	case verifier == "":
		return nil, errInvalidRequest("code_verifier is required (PKCE, RFC 7636)")
	case !validVerifier(verifier):
		return nil, errInvalidRequest("code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1)")
	}
	hash, ok := secretHash(code)
	if !ok {
		return nil, errBadCode
	}
	// Keys first: a missing key fails the request before the code is used.
	k, err := s.signer(c)
	if err != nil {
		return nil, err
	}
	idk, err := s.idTokenSigner(c)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var (
		ac      AuthCode
		refresh string
	)
	if slices.Contains(c.GrantTypes, GrantRefreshToken) {
		ac, refresh, err = s.exchangeWithFamily(r, c, hash, verifier, f.get("redirect_uri"), now, familyKey(c, jkt))
	} else {
		// No family can come of it: the code is redeemed in one statement,
		// and the checks follow.
		if ac, err = s.codes.ExchangeCode(r.Context(), hash, c.ID, now, nil); err == nil {
			err = checkExchange(ac, verifier, f.get("redirect_uri"))
		}
	}
	if err != nil {
		return nil, s.codeRefused(r, c, ac, err)
	}
	scope, _ := parseScope(ac.Scope)
	resp, err := s.mint(k, c, ac.UserID, scope, ac.AuthTime, now, jkt)
	if err != nil {
		return nil, err
	}
	resp.RefreshToken = refresh
	if slices.Contains(scope, ScopeOpenID) {
		if resp.IDToken, err = s.idToken(idk, c, ac, resp.AccessToken, now); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// exchangeWithFamily redeems the code and, if it gets a refresh token,
// starts its family in the same transaction; it returns the code and the
// refresh token ("" for none).
func (s *server) exchangeWithFamily(r *http.Request, c Client, hash []byte, verifier, redirectURI string, now time.Time, jkt string) (AuthCode, string, error) {
	refresh, refreshHash := newRefreshToken(now)
	familyID := newFamilyID(now)
	issued := false
	ac, err := s.codes.ExchangeCode(r.Context(), hash, c.ID, now, func(ac AuthCode) (CodeExchange, error) {
		issued = false
		if err := checkExchange(ac, verifier, redirectURI); err != nil {
			return CodeExchange{}, err
		}
		if scope, _ := parseScope(ac.Scope); !issuesRefresh(c, scope) {
			return CodeExchange{}, nil
		}
		issued = true
		return CodeExchange{
			Family: &Family{ID: familyID, Scope: ac.Scope, AuthTime: ac.AuthTime, CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTokenTTL), JKT: jkt},
			First:  &RefreshToken{Hash: refreshHash, FamilyID: familyID, IssuedAt: now},
		}, nil
	})
	if err != nil || !issued {
		return ac, "", err
	}
	s.limitFamilies(r, c.ID, ac.UserID, now)
	return ac, refresh, nil
}

// checkExchange is what the token request must repeat of the authorization
// request: the PKCE verifier of its challenge (RFC 7636 §4.6) and its
// redirect_uri, exactly, or none if it had none (RFC 6749 §4.1.3).
func checkExchange(ac AuthCode, verifier, redirectURI string) error {
	switch {
	case !pkceMatch(verifier, ac.CodeChallenge):
		return errPKCEMismatch
	case redirectURI != ac.RedirectURI:
		return errRedirectURI
	}
	return nil
}

// issuesRefresh decides whether a code exchange gets a refresh token: only
// for a client allowed the refresh_token grant; for a plain OAuth request
// always, for an OpenID Connect one (scope openid) only with offline_access
// (Core §11), which a third-party client gets only through the consent page,
// or for a first-party client, whose sessions are Rotor's own business.
func issuesRefresh(c Client, scope []string) bool {
	if !slices.Contains(c.GrantTypes, GrantRefreshToken) {
		return false
	}
	return !slices.Contains(scope, ScopeOpenID) || slices.Contains(scope, ScopeOfflineAccess) || c.FirstParty
}

// codeRefused logs why a code was refused and returns the one answer. A
// replay is logged as a warning: someone else may hold the code.
func (s *server) codeRefused(r *http.Request, c Client, ac AuthCode, why error) error {
	switch {
	case errors.Is(why, ErrNotFound):
		why = errCodeUnknown
	case errors.Is(why, ErrCodeReused), errors.Is(why, ErrCodeExpired), errors.Is(why, ErrRevoked),
		errors.Is(why, errPKCEMismatch), errors.Is(why, errRedirectURI):
	default:
		return storeError(why)
	}
	level := slog.LevelInfo
	if errors.Is(why, ErrCodeReused) {
		level = slog.LevelWarn
	}
	s.log.LogAttrs(r.Context(), level, "authorization code refused", slog.String("reason", why.Error()),
		slog.String("client_id", c.ID), slog.String("user_id", ac.UserID), slog.String("session_id", ac.SessionID))
	return errBadCode
}

// validVerifier checks a PKCE code_verifier (RFC 7636 §4.1): 43 to 128
// characters of the unreserved set.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0) {
			return false
		}
	}
	return true
}

// pkceMatch is RFC 7636 §4.6 for S256: BASE64URL(SHA256(verifier)) equals
// the challenge, compared in constant time.
func pkceMatch(verifier, challenge string) bool {
	sum := sha256.Sum256([]byte(verifier))
	var enc [43]byte
	b64Strict.Encode(enc[:], sum[:])
	return len(challenge) == len(enc) && subtle.ConstantTimeCompare(enc[:], []byte(challenge)) == 1
}
