package idp

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// form holds the parameters of a form-encoded request body, each present at
// most once (RFC 6749 §3.2).
type form map[string]string

// get returns the parameter; an empty value counts as absent (RFC 6749 §3.1).
func (f form) get(name string) string { return f[name] }

// parseForm reads a size-limited application/x-www-form-urlencoded body. It
// rejects other content types, repeated parameters (RFC 6749 §3.2) and bodies
// over the limit. Query parameters are ignored: credentials never belong in a
// URL.
func (s *server) parseForm(w http.ResponseWriter, r *http.Request) (form, error) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, errInvalidRequest("request body must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &oauthError{Code: "invalid_request", Description: "request body too large", Status: http.StatusRequestEntityTooLarge}
		}
		return nil, errInvalidRequest("could not read request body")
	}
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errInvalidRequest("malformed form body")
	}
	f := make(form, len(values))
	for name, vs := range values {
		if len(vs) > 1 {
			return nil, errInvalidRequest("parameter " + safeParamName(name) + " is repeated")
		}
		if vs[0] != "" {
			f[name] = vs[0]
		}
	}
	return f, nil
}

// safeParamName echoes a parameter name only if it is short and plain, so an
// error description never reflects attacker-chosen bytes.
func safeParamName(name string) string {
	if len(name) > 32 {
		return "(name too long)"
	}
	for _, c := range name {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return "(name)"
		}
	}
	return name
}

// credentials are what a request presented to authenticate its client.
type credentials struct {
	id     string
	secret string
	basic  bool // sent with HTTP Basic (RFC 6749 §2.3.1)
}

// clientCredentials extracts client credentials from the Authorization header
// or the body. Using both in one request is refused (RFC 6749 §2.3).
func clientCredentials(r *http.Request, f form) (credentials, error) {
	bodyID, bodySecret := f.get("client_id"), f.get("client_secret")
	auth := r.Header.Values("Authorization")
	if len(auth) > 1 {
		return credentials{}, errInvalidRequest("more than one Authorization header")
	}
	if len(auth) == 0 {
		if bodySecret != "" && bodyID == "" {
			return credentials{}, errInvalidRequest("client_secret without client_id")
		}
		return credentials{id: bodyID, secret: bodySecret}, nil
	}
	scheme, payload, ok := strings.Cut(auth[0], " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return credentials{}, errInvalidClient()
	}
	if bodySecret != "" {
		return credentials{}, errInvalidRequest("client credentials sent both in the Authorization header and in the body")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(payload))
	if err != nil {
		return credentials{}, errInvalidClient()
	}
	rawID, rawSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return credentials{}, errInvalidClient()
	}
	// RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
	id, err1 := url.QueryUnescape(rawID)
	secret, err2 := url.QueryUnescape(rawSecret)
	if err1 != nil || err2 != nil || id == "" {
		return credentials{}, errInvalidClient()
	}
	if bodyID != "" && bodyID != id {
		return credentials{}, errInvalidRequest("client_id in the body differs from the authenticated client")
	}
	return credentials{id: id, secret: secret, basic: true}, nil
}

// authenticateClient returns the client the request authenticates as. A
// confidential client must present its secret; a public client only its id,
// and only where allowPublic. Every failure is the same invalid_client.
func (s *server) authenticateClient(r *http.Request, f form, allowPublic bool) (Client, error) {
	cred, err := clientCredentials(r, f)
	if err != nil {
		return Client{}, err
	}
	if cred.id == "" {
		return Client{}, errInvalidClient()
	}
	if len(cred.id) > maxClientIDLen || len(cred.secret) > maxSecretLen {
		return Client{}, errInvalidClient()
	}
	c, err := s.client(r, cred.id)
	if errors.Is(err, ErrNotFound) {
		// Hash anyway so a missing client costs what a wrong secret does.
		_ = sha256.Sum256([]byte(cred.secret))
		return Client{}, errInvalidClient()
	}
	if err != nil {
		return Client{}, storeError(err)
	}
	if c.Public {
		if !allowPublic || cred.secret != "" {
			return Client{}, errInvalidClient()
		}
		return c, nil
	}
	sum := sha256.Sum256([]byte(cred.secret))
	if cred.secret == "" || subtle.ConstantTimeCompare(sum[:], c.SecretHash) != 1 {
		return Client{}, errInvalidClient()
	}
	return c, nil
}

// client returns the client with this id, from the cache when it is fresh.
func (s *server) client(r *http.Request, id string) (Client, error) {
	now := s.cfg.Now()
	if c, ok := s.clientCache.get(id, now); ok {
		return c, nil
	}
	c, err := s.clients.ClientByID(r.Context(), id)
	if err == nil {
		s.clientCache.put(c, now)
	}
	return c, err
}
