package idp

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

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

// assertionClaims are what Rotor reads of a client assertion (RFC 7523 §3).
type assertionClaims struct {
	Issuer   string      `json:"iss"`
	Subject  string      `json:"sub"`
	Audience audience    `json:"aud"`
	Expiry   json.Number `json:"exp"`
	IssuedAt json.Number `json:"iat"`
	NotBef   json.Number `json:"nbf"`
	JTI      string      `json:"jti"`
}

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
	if raw == "" || len(raw) > maxAssertionLen || strings.Count(raw, ".") != 2 {
		return Client{}, errAssertionShape
	}
	// One parse: the key provider reads the (not yet verified) claims to
	// find the client, and offers jws.Verify that client's keys.
	var (
		c       Client
		cl      assertionClaims
		lookErr error
	)
	provider := jws.KeyProviderFunc(func(ctx context.Context, sink jws.KeySink, sig *jws.Signature, msg *jws.Message) error {
		c, cl, lookErr = s.assertionClient(r, f, msg.Payload())
		if lookErr == nil {
			lookErr = s.assertionKeys(ctx, sink, sig.ProtectedHeaders(), c)
		}
		return lookErr
	})
	_, err := jws.Verify([]byte(raw), jws.WithCompact(), jws.WithKeyProvider(provider), jws.WithContext(r.Context()))
	switch {
	case lookErr != nil:
		return c, lookErr
	case c.ID == "":
		return c, errAssertionShape
	case err != nil:
		return c, errAssertionSig
	}
	now := s.now()
	exp, err := s.checkAssertionClaims(r, c, cl, now)
	if err != nil {
		return c, err
	}
	fresh, err := s.replay.UseOnce(r.Context(), replayKey("client-assertion", c.ID, cl.JTI), exp, now)
	if err != nil {
		return c, storeError(err)
	}
	if !fresh {
		return c, errAssertionReplay
	}
	return c, nil
}

// assertionClient decodes an assertion's claims and returns the client its
// sub names, which must be registered for private_key_jwt. The claims are
// trusted only once the signature verifies with that client's key.
func (s *server) assertionClient(r *http.Request, f form, payload []byte) (Client, assertionClaims, error) {
	var cl assertionClaims
	if json.Unmarshal(payload, &cl) != nil || cl.Subject == "" || len(cl.Subject) > maxClientIDLen {
		return Client{}, cl, errAssertionShape
	}
	if bodyID := f.get("client_id"); bodyID != "" && bodyID != cl.Subject {
		return Client{}, cl, errAssertionSubject
	}
	c, err := s.client(r, cl.Subject)
	switch {
	case errors.Is(err, ErrNotFound) || err == nil && c.AuthMethod != AuthPrivateKeyJWT:
		return Client{ID: cl.Subject}, cl, errAssertionClient
	case err != nil:
		return Client{}, cl, storeError(err)
	}
	return c, cl, nil
}

// assertionKeys offers the client's registered keys of the header's
// algorithm (and kid, if both name one): a key verifies only with the
// algorithm it was registered with, so none, HMAC and algorithm
// substitution never pass.
func (s *server) assertionKeys(ctx context.Context, sink jws.KeySink, h jws.Headers, c Client) error {
	alg, ok := h.Algorithm()
	if !ok || !validAssertionAlg(alg.String()) {
		return errAssertionSig
	}
	kid, _ := h.KeyID()
	var (
		set jwk.Set
		err error
	)
	if c.JWKSURI != "" {
		miss := func(set jwk.Set) bool { return len(assertionCandidates(set, alg.String(), kid)) == 0 }
		if set, err = s.clientJWKS.keys(ctx, c, s.now(), miss); err != nil {
			return err
		}
	} else if set, err = s.clientKeys.get(c.JWKS); err != nil {
		return errAssertionSig
	}
	for _, k := range assertionCandidates(set, alg.String(), kid) {
		sink.Key(alg, k)
	}
	return nil
}

// assertionCandidates are the keys of set registered for alg and, if both
// name one, with kid.
func assertionCandidates(set jwk.Set, alg, kid string) []jwk.Key {
	var out []jwk.Key
	for i := range set.Len() {
		k, _ := set.Key(i)
		if ka, _ := k.Algorithm(); ka.String() != alg {
			continue
		}
		if kk, _ := k.KeyID(); kid != "" && kk != "" && kk != kid {
			continue
		}
		out = append(out, k)
	}
	return out
}

// checkAssertionClaims applies RFC 7523 §3 and returns the assertion's
// expiry, until which its jti is kept.
func (s *server) checkAssertionClaims(r *http.Request, c Client, cl assertionClaims, now time.Time) (time.Time, error) {
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
	expS, err := cl.Expiry.Int64()
	if err != nil || cl.JTI == "" || len(cl.JTI) > 256 {
		return time.Time{}, errAssertionShape
	}
	exp := time.Unix(expS, 0)
	if !now.Before(exp) || exp.Sub(now) > maxAssertionLifetime+assertionSkew {
		return time.Time{}, errAssertionExp
	}
	for _, n := range []json.Number{cl.IssuedAt, cl.NotBef} {
		if n == "" {
			continue
		}
		v, err := n.Int64()
		if err != nil {
			return time.Time{}, errAssertionShape
		}
		if time.Unix(v, 0).After(now.Add(assertionSkew)) {
			return time.Time{}, errAssertionTime
		}
	}
	return exp, nil
}
