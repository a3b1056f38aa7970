package resourcetest

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Audience is the audience an Issuer puts in tokens unless told otherwise.
const Audience = "https://api.rotor.test"

// Algorithms Rotor signs with.
const (
	RS256 = "RS256"
	EdDSA = "EdDSA"
)

// Well-known paths served by an Issuer (RFC 8414 §3, and Rotor's JWKS path).
const (
	MetadataPath = "/.well-known/oauth-authorization-server"
	JWKSPath     = "/.well-known/jwks.json"
)

// A Key is a signing key of the test issuer.
type Key struct {
	// ID is the key's kid: its RFC 7638 SHA-256 thumbprint, base64url.
	ID string
	// Alg is RS256 or EdDSA.
	Alg string
	// Signer is the private key, for tests that build tokens by hand.
	Signer crypto.Signer
}

// Public returns the public key.
func (k *Key) Public() crypto.PublicKey { return k.Signer.Public() }

// JWK returns the public JWK as Rotor publishes it (RFC 7517 §4).
func (k *Key) JWK() map[string]any {
	m := map[string]any{"kid": k.ID, "alg": k.Alg, "use": "sig"}
	for name, v := range thumbprintMembers(k.Signer.Public()) {
		m[name] = v
	}
	return m
}

// Claims are the claims of a Rotor access token (RFC 9068 §2.2). Zero times
// and empty strings are left out of the token, so a test can drop a required
// claim by clearing it.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  []string // one element is encoded as a string, several as an array
	ExpiresAt time.Time
	IssuedAt  time.Time
	NotBefore time.Time
	JWTID     string
	ClientID  string
	Scope     string         // space-delimited
	Extra     map[string]any // further claims, added last (they may override)
}

// An Option changes the token built by Issuer.Token.
type Option struct{ apply func(*tokenSpec) }

type tokenSpec struct {
	alg    string
	key    *Key
	claims Claims

	headerEdits []func(map[string]any)
}

// WithAlg signs with the issuer's current key for alg (RS256 by default).
func WithAlg(alg string) Option { return Option{func(s *tokenSpec) { s.alg = alg }} }

// WithKey signs with k, published or not.
func WithKey(k *Key) Option { return Option{func(s *tokenSpec) { s.key = k }} }

// WithClaims lets f edit the default claims.
func WithClaims(f func(*Claims)) Option { return Option{func(s *tokenSpec) { f(&s.claims) }} }

// WithHeader lets f edit the JOSE header (alg, kid, typ) before signing.
func WithHeader(f func(map[string]any)) Option {
	return Option{func(s *tokenSpec) { s.headerEdits = append(s.headerEdits, f) }}
}

// Issuer is a Rotor test issuer on a loopback httptest server. It is safe for
// concurrent use.
type Issuer struct {
	srv *httptest.Server
	now func() time.Time

	mu        sync.Mutex
	published []*Key
	current   map[string]*Key
	maxAge    time.Duration
	jwks      http.Handler
	metadata  http.Handler
	pool      map[string]int // next index into the process key pool, per alg

	fetches atomic.Int64
}

// New starts an Issuer (see Start) that is closed when the test ends.
func New(t testing.TB) *Issuer {
	t.Helper()
	iss := Start()
	t.Cleanup(iss.Close)
	return iss
}

// Start starts an Issuer with a current, published RS256 key and EdDSA key
// and a JWKS max-age of 60s. Close it when done.
func Start() *Issuer {
	iss := &Issuer{
		current: map[string]*Key{},
		maxAge:  time.Minute,
		pool:    map[string]int{},
		now:     time.Now,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+JWKSPath, func(w http.ResponseWriter, r *http.Request) {
		iss.fetches.Add(1)
		iss.mu.Lock()
		h := iss.jwks
		iss.mu.Unlock()
		if h == nil {
			h = iss.JWKSHandler()
		}
		h.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET "+MetadataPath, func(w http.ResponseWriter, r *http.Request) {
		iss.mu.Lock()
		h := iss.metadata
		iss.mu.Unlock()
		if h == nil {
			h = iss.MetadataHandler()
		}
		h.ServeHTTP(w, r)
	})
	iss.srv = httptest.NewServer(mux)
	for _, alg := range []string{RS256, EdDSA} {
		k := iss.NewKey(alg)
		iss.Publish(k)
		iss.SetCurrent(k)
	}
	return iss
}

// Close shuts the server down.
func (iss *Issuer) Close() { iss.srv.Close() }

// URL is the issuer identifier: the exact iss value and the base of the
// well-known URLs.
func (iss *Issuer) URL() string { return iss.srv.URL }

// JWKSURL is the URL of the JWKS.
func (iss *Issuer) JWKSURL() string { return iss.srv.URL + JWKSPath }

// JWKSFetches reports how many requests reached the JWKS URL, whichever
// handler answered them.
func (iss *Issuer) JWKSFetches() int64 { return iss.fetches.Load() }

// NewKey makes a key for alg. It is neither published nor current.
func (iss *Issuer) NewKey(alg string) *Key {
	iss.mu.Lock()
	i := iss.pool[alg]
	iss.pool[alg] = i + 1
	iss.mu.Unlock()
	return pooledKey(alg, i)
}

// Publish adds keys to the JWKS (Rotor's "next" state when not yet current).
func (iss *Issuer) Publish(keys ...*Key) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	for _, k := range keys {
		if !slices.Contains(iss.published, k) {
			iss.published = append(iss.published, k)
		}
	}
}

// Unpublish removes keys from the JWKS, as Rotor does when it revokes a key.
func (iss *Issuer) Unpublish(keys ...*Key) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.published = slices.DeleteFunc(iss.published, func(k *Key) bool { return slices.Contains(keys, k) })
}

// SetCurrent makes k the key that signs tokens for its algorithm. It does not
// publish k.
func (iss *Issuer) SetCurrent(k *Key) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.current[k.Alg] = k
}

// Current returns the key that signs tokens for alg.
func (iss *Issuer) Current(alg string) *Key {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return iss.current[alg]
}

// SetMaxAge sets the JWKS Cache-Control max-age.
func (iss *Issuer) SetMaxAge(d time.Duration) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.maxAge = d
}

// SetJWKSHandler replaces the JWKS handler, for example to inject a fault;
// nil restores the default. Requests are counted either way.
func (iss *Issuer) SetJWKSHandler(h http.Handler) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.jwks = h
}

// SetMetadataHandler replaces the RFC 8414 metadata handler; nil restores the
// default.
func (iss *Issuer) SetMetadataHandler(h http.Handler) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.metadata = h
}

// JWKS returns the JWKS document of the published keys.
func (iss *Issuer) JWKS() []byte {
	iss.mu.Lock()
	keys := slices.Clone(iss.published)
	iss.mu.Unlock()
	set := struct {
		Keys []map[string]any `json:"keys"`
	}{Keys: []map[string]any{}}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.JWK())
	}
	b, err := json.Marshal(set)
	if err != nil {
		panic(err)
	}
	return b
}

// JWKSHandler returns the default JWKS handler, which tests can wrap.
func (iss *Issuer) JWKSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := iss.JWKS()
		sum := sha256.Sum256(body)
		etag := `"` + hex.EncodeToString(sum[:16]) + `"`
		iss.mu.Lock()
		maxAge := iss.maxAge
		iss.mu.Unlock()
		w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(maxAge/time.Second)))
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(body)
	})
}

// MetadataHandler returns the default RFC 8414 metadata handler.
func (iss *Issuer) MetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                iss.URL(),
			"jwks_uri":                              iss.JWKSURL(),
			"token_endpoint":                        iss.URL() + "/oauth2/token",
			"grant_types_supported":                 []string{"client_credentials", "refresh_token", "password"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		})
	})
}

// DefaultClaims returns the claims Token uses before options: the issuer,
// Audience, subject "user-1", client "client-1", scope "read write", issued
// now, expiring in five minutes, and a fresh jti.
func (iss *Issuer) DefaultClaims() Claims {
	now := iss.now().Truncate(time.Second)
	var jti [16]byte
	rand.Read(jti[:])
	return Claims{
		Issuer:    iss.URL(),
		Subject:   "user-1",
		Audience:  []string{Audience},
		ExpiresAt: now.Add(5 * time.Minute),
		IssuedAt:  now,
		JWTID:     base64.RawURLEncoding.EncodeToString(jti[:]),
		ClientID:  "client-1",
		Scope:     "read write",
	}
}

// Token returns a signed access token in Rotor's format: header
// {"alg","kid","typ":"at+jwt"} and the default claims, changed by opts.
func (iss *Issuer) Token(opts ...Option) string {
	s := tokenSpec{alg: RS256, claims: iss.DefaultClaims()}
	for _, o := range opts {
		o.apply(&s)
	}
	k := s.key
	if k == nil {
		k = iss.Current(s.alg)
	}
	if k == nil {
		panic("resourcetest: no current key for " + s.alg)
	}
	header := map[string]any{"alg": k.Alg, "kid": k.ID, "typ": "at+jwt"}
	for _, f := range s.headerEdits {
		f(header)
	}
	return Sign(k, header, s.claims.Map())
}

// Map returns the claims as a JWT claims set, NumericDates in whole seconds
// (RFC 7519 §2).
func (c Claims) Map() map[string]any {
	m := map[string]any{}
	str := func(name, v string) {
		if v != "" {
			m[name] = v
		}
	}
	date := func(name string, t time.Time) {
		if !t.IsZero() {
			m[name] = t.Unix()
		}
	}
	str("iss", c.Issuer)
	str("sub", c.Subject)
	switch len(c.Audience) {
	case 0:
	case 1:
		m["aud"] = c.Audience[0]
	default:
		m["aud"] = c.Audience
	}
	date("exp", c.ExpiresAt)
	date("iat", c.IssuedAt)
	date("nbf", c.NotBefore)
	str("jti", c.JWTID)
	str("client_id", c.ClientID)
	str("scope", c.Scope)
	for name, v := range c.Extra {
		m[name] = v
	}
	return m
}
