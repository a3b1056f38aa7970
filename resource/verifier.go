package resource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rotor-idp/rotor/internal/dpop"
	"github.com/rotor-idp/rotor/internal/jws"
)

// Config configures a Verifier. Issuer and Audience are required; every other
// field has a default.
type Config struct {
	// Issuer is Rotor's issuer identifier, compared exactly with the iss
	// claim (RFC 9068 §4) and with the issuer in the discovered metadata
	// (RFC 8414 §3.3). It must be an https URL (http is accepted for
	// loopback hosts, for tests) without query or fragment.
	Issuer string
	// JWKSURL, if set, is used instead of discovering jwks_uri from the
	// issuer's RFC 8414 metadata. Same URL rules as Issuer.
	JWKSURL string
	// Audience is this resource server's identifier; the aud claim must
	// contain it (RFC 9068 §4 step 4).
	Audience string
	// Algorithms is the allowlist of JWS algorithms (RFC 8725 §3.1). Only
	// RS256 and EdDSA are implemented, and they are the default; anything
	// else (none, HS256, ...) makes New fail.
	Algorithms []string
	// Leeway absorbs clock skew in exp, nbf and iat checks. Zero means 30s;
	// a negative value means none.
	Leeway time.Duration

	// HTTPClient fetches the metadata and the JWKS. Default: a client with
	// http.DefaultTransport. Its redirect policy is wrapped so that a
	// redirect to another origin is refused.
	HTTPClient *http.Client
	// HTTPTimeout bounds each fetch. Default 10s.
	HTTPTimeout time.Duration
	// MinRefresh and MaxRefresh clamp the JWKS max-age that schedules the
	// background refresh. Defaults 1s and 15m: the upper bound caps how long
	// a revoked key can stay trusted when the JWKS asks for long caching.
	MinRefresh, MaxRefresh time.Duration
	// MaxBackoff caps the exponential backoff after failed fetches, which
	// starts at MinRefresh. Default 1m.
	MaxBackoff time.Duration
	// MaxStale is how long the last good key set keeps serving while fetches
	// fail; past it every Verify fails closed with ErrKeysUnavailable.
	// Default 1h: four times the default MaxRefresh. It is also how long a
	// key the issuer revoked (taken out of its JWKS after a compromise) can
	// stay trusted here while the JWKS cannot be reached, so a longer
	// MaxStale buys availability during an issuer outage with exposure to a
	// revoked key. See the package documentation.
	MaxStale time.Duration
	// UnknownKeyFloor is the least time between two fetches caused by a kid
	// the key set lacks (or by having no key set at all). Inside it such a
	// request fails at once. Default 30s.
	UnknownKeyFloor time.Duration
	// CacheSize bounds the cache of verified tokens. Zero means 10,000
	// entries; a negative value disables the cache.
	CacheSize int
	// Logger receives refresh events: failures with a category, recoveries
	// and key-set changes. It never receives tokens or key material.
	// Default slog.Default().
	Logger *slog.Logger

	// DPoP (RFC 9449): see Authenticate and VerifyRequest.
	//
	// ExternalURL is the scheme, host and path prefix clients address this
	// server by, when a proxy in front changes them: a proof's htu must be
	// ExternalURL followed by the request's path. Default: the request's own
	// (https when it came over TLS, its Host header).
	ExternalURL string
	// RequireDPoP refuses every bearer presentation: only DPoP-bound tokens
	// with a valid proof get through.
	RequireDPoP bool
	// DPoPAlgorithms are the proof algorithms accepted (default ES256,
	// EdDSA, RS256, PS256 and their larger variants; never none or HMAC).
	DPoPAlgorithms []string
	// DPoPMaxAge is how old a proof's iat may be (default 60s); the replay
	// cache keeps a proof that long.
	DPoPMaxAge time.Duration
	// DPoPReplayCacheSize bounds the in-memory cache of proof ids (default
	// 100,000). When it is full of live proofs, new ones are refused.
	DPoPReplayCacheSize int

	// now is the clock, for tests.
	now func() time.Time
}

// Defaults for Config.
const (
	defaultLeeway      = 30 * time.Second
	defaultHTTPTimeout = 10 * time.Second
	defaultMinRefresh  = time.Second
	defaultMaxRefresh  = 15 * time.Minute
	defaultMaxBackoff  = time.Minute
	defaultMaxStale    = time.Hour
	defaultFloor       = 30 * time.Second
	defaultCacheSize   = 10000
	maxDocumentSize    = 1 << 20 // JWKS and metadata bodies
)

// Verifier verifies Rotor access tokens with Rotor's published keys. It is
// safe for concurrent use; create one per issuer and audience and Close it
// when done.
type Verifier struct {
	issuer, audience string
	algs             []string
	leeway           time.Duration
	maxStale         time.Duration
	floor            time.Duration
	minRefresh       time.Duration
	maxRefresh       time.Duration
	maxBackoff       time.Duration
	httpTimeout      time.Duration
	client           *http.Client
	log              *slog.Logger
	now              func() time.Time

	dpop        *dpop.Checker
	replay      *dpop.ReplayCache
	externalURL string
	requireDPoP bool
	dpopAlgs    string // for challenges: space-separated

	snap  atomic.Pointer[snapshot]
	cache *tokenCache // nil when disabled

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// fmu guards the fetch coordination below.
	fmu          sync.Mutex
	inflight     *flight
	lastOnDemand time.Time

	// Owned by the one running fetch (fetches never overlap).
	jwksURL string
	etag    string

	fetches  atomic.Uint64
	counters counters // for Stats

	smu      sync.Mutex // guards the fields below
	failures int
	lastErr  string
}

// New returns a Verifier and starts fetching Rotor's keys in the background.
// It fails only on a bad configuration, never because Rotor is unreachable:
// until the first key set arrives every Verify fails closed with
// ErrKeysUnavailable, and the verifier recovers on its own.
func New(cfg Config) (*Verifier, error) {
	if err := checkURL("Config.Issuer", cfg.Issuer); err != nil {
		return nil, err
	}
	if cfg.JWKSURL != "" {
		if err := checkURL("Config.JWKSURL", cfg.JWKSURL); err != nil {
			return nil, err
		}
	}
	if cfg.Audience == "" {
		return nil, errors.New("resource: Config.Audience is required")
	}
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = []string{RS256, EdDSA}
	}
	for _, a := range algs {
		if a != RS256 && a != EdDSA {
			// RFC 8725 §3.1: an explicit allowlist of algorithms that the
			// verifier implements; none and HMAC never belong in it.
			return nil, fmt.Errorf("resource: algorithm %q is not supported (only RS256 and EdDSA)", a)
		}
	}
	v := &Verifier{
		issuer:      cfg.Issuer,
		audience:    cfg.Audience,
		algs:        slices.Clone(algs),
		leeway:      orDefault(cfg.Leeway, defaultLeeway),
		maxStale:    orDefault(cfg.MaxStale, defaultMaxStale),
		floor:       orDefault(cfg.UnknownKeyFloor, defaultFloor),
		minRefresh:  orDefault(cfg.MinRefresh, defaultMinRefresh),
		maxRefresh:  orDefault(cfg.MaxRefresh, defaultMaxRefresh),
		maxBackoff:  orDefault(cfg.MaxBackoff, defaultMaxBackoff),
		httpTimeout: orDefault(cfg.HTTPTimeout, defaultHTTPTimeout),
		log:         cfg.Logger,
		now:         cfg.now,
		jwksURL:     cfg.JWKSURL,
	}
	if v.leeway < 0 {
		v.leeway = 0
	}
	if v.maxRefresh < v.minRefresh {
		return nil, errors.New("resource: Config.MaxRefresh is less than MinRefresh")
	}
	if v.log == nil {
		v.log = slog.Default()
	}
	if v.now == nil {
		v.now = time.Now
	}
	switch {
	case cfg.CacheSize == 0:
		v.cache = newTokenCache(defaultCacheSize)
	case cfg.CacheSize > 0:
		v.cache = newTokenCache(cfg.CacheSize)
	}
	if err := v.configureDPoP(cfg); err != nil {
		return nil, err
	}
	v.client = sameOriginClient(cfg.HTTPClient)
	v.ctx, v.cancel = context.WithCancel(context.Background())
	// The first fetch starts here rather than in the loop, so that a Refresh
	// right after New joins it instead of racing it.
	first := v.startFetch(false, v.now())
	v.wg.Add(1)
	go v.refreshLoop(first)
	return v, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// checkURL enforces https for the issuer and JWKS (RFC 8414 §2, RFC 8725
// §3.10), allowing plain http only on loopback so tests can run offline.
func checkURL(field, s string) error {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("resource: %s must be an absolute URL without query or fragment", field)
	}
	if u.Scheme == "https" || u.Scheme == "http" && isLoopback(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("resource: %s must use https (http only on loopback)", field)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

var errCrossOriginRedirect = errors.New("redirect to another origin refused")

// sameOriginClient copies c (or a default client) with a redirect policy that
// refuses to leave the origin of the first request, so a compromised or
// misconfigured server cannot point the verifier at keys elsewhere.
func sameOriginClient(c *http.Client) *http.Client {
	var cp http.Client
	if c != nil {
		cp = *c
	}
	inner := cp.CheckRedirect
	cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		first := via[0].URL
		if req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
			return errCrossOriginRedirect
		}
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		if inner != nil {
			return inner(req, via)
		}
		return nil
	}
	return &cp
}

// Close stops the background refresh and waits for it. Verify fails with
// ErrKeysUnavailable after Close only if it needs a fetch.
func (v *Verifier) Close() error {
	// Cancel under fmu: startFetch checks the context and adds to wg under
	// the same lock, so no fetch can start once Wait may be running.
	v.fmu.Lock()
	v.cancel()
	v.fmu.Unlock()
	v.wg.Wait()
	return nil
}

// Verify checks a Rotor access token (RFC 9068 §4, RFC 8725) and returns its
// claims. Errors match ErrNoToken, ErrInvalidToken or ErrKeysUnavailable with
// errors.Is.
//
// A token already verified is answered from the cache while it has not
// expired and its key is still published. Otherwise the token is checked in
// full: compact serialization, typ at+jwt, an allowed alg, a kid naming a key
// of the matching type in the current key set, the signature, then the
// claims. A kid missing from the key set triggers at most one fetch per
// Config.UnknownKeyFloor; ctx bounds the wait for that fetch.
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	if token == "" {
		v.rejected(ErrNoToken)
		return Claims{}, ErrNoToken
	}
	if len(token) > MaxTokenSize {
		v.rejected(errTooLarge)
		return Claims{}, errTooLarge
	}
	now := v.now()
	if v.cache != nil {
		e, shard := v.cache.get(token)
		if e != nil {
			snap := v.snap.Load()
			if now.UnixNano() < e.deadline && snap.usable(now, v.maxStale) && snap.keys[e.key.kid] == e.key {
				shard.hits.Add(1)
				return e.claims, nil
			}
			// Expired, or the key left the JWKS (rotated out or revoked),
			// or the key set went stale: drop it and let the full check
			// give the precise error.
			v.cache.remove(token)
		}
		shard.misses.Add(1)
	}
	c, k, err := v.verify(ctx, token, now)
	if err != nil {
		v.rejected(err)
		return Claims{}, err
	}
	if v.cache != nil {
		// Clone: the token may be a slice of a larger string (a header
		// line, a body) that the cache must not pin.
		v.cache.put(strings.Clone(token), &cacheEntry{claims: c, key: k, deadline: c.ExpiresAt.Add(v.leeway).UnixNano()})
	}
	return c, nil
}

// verify is the uncached check: the shared JWS rules (jws.Verify) with this
// verifier's algorithms and key set, then the claims.
func (v *Verifier) verify(ctx context.Context, token string, now time.Time) (Claims, *verifyKey, error) {
	var k *verifyKey
	t, err := jws.Verify(token, v.algs, func(kid string) (*jws.Key, error) {
		var err error
		if k, err = v.key(ctx, kid, now); err != nil {
			return nil, err
		}
		return k.key, nil
	})
	if err != nil {
		return Claims{}, nil, fromJWS(err)
	}
	c, err := v.checkClaims(t, now)
	return c, k, err
}

// key finds the key for kid, fetching the key set once per floor when the
// kid is unknown or no usable key set is at hand.
func (v *Verifier) key(ctx context.Context, kid string, now time.Time) (*verifyKey, error) {
	snap := v.snap.Load()
	if snap.usable(now, v.maxStale) {
		if k := snap.keys[kid]; k != nil {
			return k, nil
		}
		v.counters.kidMisses.Add(1)
	}
	if f := v.startFetch(true, now); f != nil {
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, ctx.Err())
		}
	}
	snap = v.snap.Load()
	switch {
	case snap == nil:
		if v.ctx.Err() != nil {
			return nil, errClosed
		}
		return nil, errNoKeySet
	case !snap.usable(now, v.maxStale):
		return nil, errStaleKeySet
	}
	if k := snap.keys[kid]; k != nil {
		return k, nil
	}
	return nil, errUnknownKID
}
