package idp

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rotor-idp/rotor/internal/jws"

	"github.com/rotor-idp/rotor/internal/audit"
)

// AssertionType is the client_assertion_type of private_key_jwt (RFC 7523
// §2.2).
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Assertion limits: how far ahead exp may be (a long-lived assertion is a
// bearer credential in all but name), the clock skew allowed on iat and
// nbf, and the size of an assertion before anything parses it.
const (
	maxAssertionLifetime = 5 * time.Minute
	assertionSkew        = 30 * time.Second
	maxAssertionLen      = 8 << 10
)

// Why an assertion was refused: logged, never sent (the client gets
// invalid_client).
var (
	errAssertionType    = errors.New("client_assertion_type is not jwt-bearer")
	errAssertionShape   = errors.New("assertion is not a compact JWS with iss, sub, aud, exp and jti")
	errAssertionClient  = errors.New("client unknown or not registered for private_key_jwt")
	errAssertionSig     = errors.New("no registered key of the header's algorithm verifies the assertion")
	errAssertionSubject = errors.New("iss and sub must both be the client id")
	errAssertionAud     = errors.New("aud names neither the issuer nor this endpoint")
	errAssertionExp     = errors.New("assertion expired, or expires more than 5 minutes ahead")
	errAssertionTime    = errors.New("iat or nbf in the future")
	errAssertionReplay  = errors.New("assertion jti already used")
)

// usesAssertion reports whether the request authenticates with an assertion.
func usesAssertion(f form) bool {
	return f.get("client_assertion") != "" || f.get("client_assertion_type") != ""
}

// authenticateAssertion is private_key_jwt (RFC 7523 §2.2, §3; OIDC Core
// §9). Every failure is the one invalid_client; the reason is logged.
func (s *server) authenticateAssertion(r *http.Request, f form) (Client, error) {
	if len(r.Header.Values("Authorization")) > 0 || f.get("client_secret") != "" {
		// RFC 6749 §2.3: one authentication method per request.
		return Client{}, errInvalidRequest("more than one client authentication method")
	}
	c, err := s.checkAssertion(r, f)
	if err != nil {
		if oe, ok := errors.AsType[*oauthError](err); ok {
			return Client{}, oe
		}
		id := c.ID
		if validID(id) != nil {
			id = "" // an unverified sub that is not even a possible client id
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "client assertion refused",
			slog.String("reason", err.Error()), slog.String("client_id", id))
		s.auditEvent(r, audit.AssertionRefused, audit.Client(id), audit.OutcomeFailure, slog.String("reason", err.Error()))
		return Client{}, errInvalidClient()
	}
	return c, nil
}

func (s *server) checkAssertion(r *http.Request, f form) (Client, error) {
	if f.get("client_assertion_type") != AssertionType {
		return Client{}, errAssertionType
	}
	raw := f.get("client_assertion")
	if raw == "" || len(raw) > maxAssertionLen {
		return Client{}, errAssertionShape
	}
	// One strict parse: the (not yet verified) claims name the client,
	// whose registered keys of the header's algorithm are then tried.
	a, err := parseAssertion(raw)
	if err != nil {
		return Client{}, err
	}
	c, err := s.assertionClient(r, f, a.claims.Subject)
	if err != nil {
		return c, err
	}
	ok, err := s.assertionVerifies(r.Context(), a, c)
	if err != nil {
		return c, err // the client's jwks_uri failed; the reason is logged
	}
	if !ok {
		return c, errAssertionSig
	}
	now := s.now()
	exp, err := s.checkAssertionClaims(r, c, a.claims, now)
	if err != nil {
		return c, err
	}
	fresh, err := s.replay.UseOnce(r.Context(), replayKey("client-assertion", c.ID, a.claims.JWTID), exp, now)
	if err != nil {
		return c, storeError(err)
	}
	if !fresh {
		return c, errAssertionReplay
	}
	return c, nil
}

// assertionClient returns the client an assertion's sub names, which must
// be registered for private_key_jwt. The claims are trusted only once the
// signature verifies with that client's key.
func (s *server) assertionClient(r *http.Request, f form, sub string) (Client, error) {
	if sub == "" || len(sub) > maxClientIDLen {
		return Client{}, errAssertionShape
	}
	if bodyID := f.get("client_id"); bodyID != "" && bodyID != sub {
		return Client{}, errAssertionSubject
	}
	c, err := s.client(r, sub)
	switch {
	case errors.Is(err, ErrNotFound) || err == nil && c.AuthMethod != AuthPrivateKeyJWT:
		return Client{ID: sub}, errAssertionClient
	case err != nil:
		return Client{}, storeError(err)
	}
	return c, nil
}

// assertionVerifies tries the client's registered keys of the header's
// algorithm (and kid, if both name one): a key verifies only with the
// algorithm it was registered with, so none, HMAC and algorithm
// substitution never pass.
//
// A client registered with a jwks_uri gets its keys from there (see
// client_jwks_uri.go); an error is only ever that fetch's.
func (s *server) assertionVerifies(ctx context.Context, a assertion, c Client) (bool, error) {
	if !validAssertionAlg(a.alg) {
		return false, nil
	}
	var (
		keys []clientKey
		err  error
	)
	if c.JWKSURI != "" {
		miss := func(keys []clientKey) bool { return !slices.ContainsFunc(keys, a.fits) }
		if keys, err = s.clientJWKS.keys(ctx, c, s.now(), miss); err != nil {
			return false, err
		}
	} else if keys, err = s.clientKeys.get(c.JWKS); err != nil {
		return false, nil
	}
	var sbuf [jws.MaxRSABits / 8]byte
	n, ok := jws.Decode(sbuf[:], a.parts.Signature)
	if !ok {
		return false, nil
	}
	for _, k := range keys {
		if a.fits(k) && k.key.Verify(a.alg, a.parts.SigningInput, sbuf[:n]) {
			return true, nil
		}
	}
	return false, nil
}

// fits reports whether k was registered for the assertion's algorithm and,
// if both name one, its kid.
func (a assertion) fits(k clientKey) bool {
	return k.alg == a.alg && (a.kid == "" || k.kid == "" || k.kid == a.kid)
}

// checkAssertionClaims applies RFC 7523 §3 and returns the assertion's
// expiry, until which its jti is kept.
func (s *server) checkAssertionClaims(r *http.Request, c Client, cl jws.Claims, now time.Time) (time.Time, error) {
	if cl.Issuer != c.ID || cl.Subject != c.ID {
		return time.Time{}, errAssertionSubject
	}
	base := strings.TrimSuffix(s.cfg.Issuer, "/")
	okAud := false
	for _, a := range cl.Audience {
		if a == s.cfg.Issuer || a == base+r.URL.Path || a == s.tokenURL {
			okAud = true
		}
	}
	if !okAud {
		return time.Time{}, errAssertionAud
	}
	if !cl.ExpiresAt.Set || cl.JWTID == "" || len(cl.JWTID) > 256 {
		return time.Time{}, errAssertionShape
	}
	exp := cl.ExpiresAt.Time
	if !now.Before(exp) || exp.Sub(now) > maxAssertionLifetime+assertionSkew {
		return time.Time{}, errAssertionExp
	}
	for _, t := range []jws.NumericDate{cl.IssuedAt, cl.NotBefore} {
		if t.Set && t.Time.After(now.Add(assertionSkew)) {
			return time.Time{}, errAssertionTime
		}
	}
	return exp, nil
}
