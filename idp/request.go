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
	"slices"
	"strings"
)

// form holds the parameters of a form-encoded request body, each present at
// most once (RFC 6749 §3.2).
type form map[string]string

// get returns the parameter; an empty value counts as absent (RFC 6749 §3.1).
func (f form) get(name string) string { return f[name] }

// formType is the only body a token, revocation or introspection request may
// have (RFC 6749 §3.2, RFC 7009 §2.1, RFC 7662 §2.1).
const formType = "application/x-www-form-urlencoded"

// maxFormParams bounds the parameters of one body; a token request has
// fewer than ten.
const maxFormParams = 64

// parseForm reads a size-limited application/x-www-form-urlencoded body. It
// rejects other content types, repeated parameters (RFC 6749 §3.2) and bodies
// over the limit. Query parameters are ignored: credentials never belong in a
// URL.
func (s *server) parseForm(w http.ResponseWriter, r *http.Request) (form, error) {
	if ct := r.Header.Get("Content-Type"); ct != formType {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != formType {
			return nil, errInvalidRequest("request body must be " + formType)
		}
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	return parseFormBody(body)
}

// readBody reads the whole body, at most MaxBodyBytes. A body that declares
// its length within the limit, as every client sends a form, is read in one
// go into a buffer of that size; any other goes through http.MaxBytesReader.
func (s *server) readBody(w http.ResponseWriter, r *http.Request) (string, error) {
	if n := r.ContentLength; n >= 0 && n <= s.cfg.MaxBodyBytes {
		buf := make([]byte, n)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			return "", errInvalidRequest("could not read request body")
		}
		return string(buf), nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return "", &oauthError{Code: "invalid_request", Description: "request body too large", Status: http.StatusRequestEntityTooLarge}
		}
		return "", errInvalidRequest("could not read request body")
	}
	return string(body), nil
}

// parseFormBody parses a form body as url.ParseQuery does (pairs split at
// '&', empty pairs skipped, ';' refused, '+' and %-escapes decoded) and
// refuses repeated parameters, empty or not, and more than maxFormParams.
func parseFormBody(body string) (form, error) {
	if strings.Count(body, "&") >= maxFormParams {
		return nil, errInvalidRequest("too many parameters")
	}
	f := make(form, 8)
	var empty []string // names seen with an empty value: absent, yet not to be repeated
	for body != "" {
		var pair string
		pair, body, _ = strings.Cut(body, "&")
		if pair == "" {
			continue
		}
		if strings.IndexByte(pair, ';') >= 0 {
			return nil, errInvalidRequest("malformed form body")
		}
		rawName, rawValue, _ := strings.Cut(pair, "=")
		name, err1 := url.QueryUnescape(rawName) // no copy when nothing is escaped
		value, err2 := url.QueryUnescape(rawValue)
		if err1 != nil || err2 != nil {
			return nil, errInvalidRequest("malformed form body")
		}
		if _, dup := f[name]; dup || slices.Contains(empty, name) {
			return nil, errInvalidRequest("parameter " + safeParamName(name) + " is repeated")
		}
		if value == "" {
			empty = append(empty, name)
		} else {
			f[name] = value
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
// confidential client must present its secret, or its assertion when it is
// registered for private_key_jwt (client_assertion.go; a secret then never
// works, as it has none); a public client only its id, and only where
// allowPublic. Every failure is the same invalid_client.
func (s *server) authenticateClient(r *http.Request, f form, allowPublic bool) (Client, error) {
	if usesAssertion(f) {
		return s.authenticateAssertion(r, f)
	}
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
