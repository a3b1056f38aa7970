package idp

import (
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/rotor-idp/rotor/internal/audit"
	"github.com/rotor-idp/rotor/internal/dpop"
	"github.com/rotor-idp/rotor/keys"
)

// Config is the IdP's behaviour. Zero fields take the defaults noted.
type Config struct {
	Issuer               string     // exact iss of every token (required)
	Algs                 []keys.Alg // lanes the key ring serves (default RS256, EdDSA)
	DefaultAlg           keys.Alg   // for clients without their own (default RS256)
	AccessTokenTTL       time.Duration
	RefreshTokenTTL      time.Duration // absolute lifetime of a refresh-token family (default 30 days)
	RefreshReuseInterval time.Duration // a spent refresh token may be retried this long (default 0: never)
	JWKSMaxAge           time.Duration // Cache-Control max-age of the JWKS (default 5m)
	// MaxFamiliesPerUserClient caps the live refresh-token families of one
	// user and client: each new family revokes the oldest beyond it, so a
	// client that logs in again and again without ever refreshing cannot
	// grow the store without bound (default 100; negative: no cap).
	MaxFamiliesPerUserClient int

	Argon2          argon2id.Params // password hashing (default DefaultArgon2)
	Argon2Limits    Argon2Limits    // stored hashes outside are refused (defaults from Argon2)
	HashConcurrency int             // hashes at once (default GOMAXPROCS)
	HashWait        time.Duration   // longest wait for a hashing slot before 503 (default 2s)
	Throttle        ThrottleConfig

	// TrustedProxies are the peers whose ForwardedHeader is believed when
	// deciding a client's address for throttling (default none: the peer's
	// address is the client's). See clientaddr.go.
	TrustedProxies  []netip.Prefix
	ForwardedHeader string // HeaderXForwardedFor (default) or HeaderForwarded

	// ClientCacheTTL is how long a replica reuses a client record it read
	// (default 2s; negative disables): a deleted client can get tokens from
	// a replica for at most this long.
	ClientCacheTTL time.Duration

	// Browser sign-in (session.go). A session ends when it has been idle
	// for SessionIdleTTL or, whatever the activity, SessionTTL after the
	// user signed in.
	SessionIdleTTL time.Duration // default 8h
	SessionTTL     time.Duration // default 7 days

	// FormKeys are the HMAC keys of the CSRF tokens in Rotor's pages
	// (formtoken.go): the first signs, every one verifies. Replicas behind
	// one load balancer must share the first key (cmd/rotor derives them
	// from the key-encryption keys). Default: a random key per process,
	// fine for a single replica.
	FormKeys [][]byte

	// DPoPNonce makes every DPoP proof at the token endpoint carry a nonce
	// Rotor issued (RFC 9449 §8), which bounds how far ahead a stolen
	// signing oracle can make proofs. Nonces need no state: they are
	// derived from FormKeys.
	DPoPNonce bool
	// Metrics, if set, records the server's Prometheus metrics; Audit, if
	// set, hears every security-relevant act (sign-ins, tokens issued,
	// refresh reuse, revocations). Nil records nothing.
	Metrics *Metrics
	Audit   *audit.Logger

	MaxBodyBytes int64            // request body limit (default 16 KiB)
	Now          func() time.Time // clock (default time.Now)
	Logger       *slog.Logger     // default slog.Default()
}

// Defaults for Config.
const (
	DefaultAccessTokenTTL  = 15 * time.Minute
	DefaultRefreshTokenTTL = 30 * 24 * time.Hour
	DefaultJWKSMaxAge      = 5 * time.Minute
	DefaultClientCacheTTL  = 2 * time.Second
	DefaultSessionIdleTTL  = 8 * time.Hour
	DefaultSessionTTL      = 7 * 24 * time.Hour

	DefaultMaxFamiliesPerUserClient = 100
)

func (c Config) withDefaults() Config {
	if len(c.Algs) == 0 {
		c.Algs = []keys.Alg{keys.RS256, keys.EdDSA}
	}
	if c.DefaultAlg == "" {
		c.DefaultAlg = c.Algs[0]
	}
	if c.AccessTokenTTL <= 0 {
		c.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if c.RefreshTokenTTL <= 0 {
		c.RefreshTokenTTL = DefaultRefreshTokenTTL
	}
	if c.MaxFamiliesPerUserClient == 0 {
		c.MaxFamiliesPerUserClient = DefaultMaxFamiliesPerUserClient
	}
	if c.JWKSMaxAge <= 0 {
		c.JWKSMaxAge = DefaultJWKSMaxAge
	}
	if c.Argon2.Memory == 0 {
		c.Argon2 = DefaultArgon2
	}
	if c.HashConcurrency <= 0 {
		c.HashConcurrency = runtime.GOMAXPROCS(0)
	}
	if c.HashWait <= 0 {
		c.HashWait = 2 * time.Second
	}
	c.Argon2Limits = c.Argon2Limits.WithDefaults(c.Argon2)
	c.Throttle = c.Throttle.withDefaults()
	if c.ForwardedHeader == "" {
		c.ForwardedHeader = HeaderXForwardedFor
	}
	if c.ClientCacheTTL == 0 {
		c.ClientCacheTTL = DefaultClientCacheTTL
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = DefaultSessionTTL
	}
	if c.SessionIdleTTL <= 0 {
		c.SessionIdleTTL = DefaultSessionIdleTTL
	}
	c.SessionIdleTTL = min(c.SessionIdleTTL, c.SessionTTL)
	if len(c.FormKeys) == 0 {
		k := make([]byte, 32)
		_, _ = rand.Read(k)
		c.FormKeys = [][]byte{k}
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 16 << 10
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// KeySource gives the current key ring; keys.Manager implements it.
type KeySource interface {
	Snapshot() *keys.Snapshot
}

// Deps are the stores and the key ring the server works with.
type Deps struct {
	Users    UserStore
	Clients  ClientStore
	Refresh  RefreshStore
	Sessions SessionStore
	Codes    CodeStore
	Consents ConsentStore
	Replay   ReplayStore
	Pinger   Pinger
	Keys     KeySource
}

type server struct {
	cfg      Config
	log      *slog.Logger
	users    UserStore
	clients  ClientStore
	refresh  RefreshStore
	sessions SessionStore
	codes    CodeStore
	consents ConsentStore
	replay   ReplayStore
	pinger   Pinger
	keys     KeySource
	hasher   *hasher
	throttle *throttle
	proxies  proxies
	metadata []byte
	pages    *pages
	cookies  cookieNames
	forms    formKeys
	signing  *signQueue
	dpop     *dpop.Checker
	nonces   nonceKeys
	tokenURL string
	// userInfoURL is the htu of DPoP proofs at the UserInfo endpoint.
	userInfoURL string
	metrics     *Metrics      // nil records nothing
	audit       *audit.Logger // nil records nothing

	clientCache *clientCache
	clientKeys  clientKeySets
	clientJWKS  *clientJWKSURIs

	unavailableLog logLimiter // rate-limits the log lines of 503 answers
}

// NewServer returns Rotor's HTTP handler (see routes.go for the surface).
// Every field of deps is required.
func NewServer(cfg Config, deps Deps) http.Handler {
	return newServer(cfg, deps).routes()
}

func newServer(cfg Config, deps Deps) *server {
	cfg = cfg.withDefaults()
	if deps.Users == nil || deps.Clients == nil || deps.Refresh == nil || deps.Sessions == nil ||
		deps.Codes == nil || deps.Consents == nil || deps.Replay == nil || deps.Pinger == nil || deps.Keys == nil {
		panic("idp.NewServer: every dependency is required")
	}
	if err := CheckArgon2Settings(cfg.Argon2, cfg.Argon2Limits); err != nil {
		panic("idp.NewServer: " + err.Error())
	}
	if cfg.ForwardedHeader != HeaderXForwardedFor && cfg.ForwardedHeader != HeaderForwarded {
		panic("idp.NewServer: ForwardedHeader must be X-Forwarded-For or Forwarded")
	}
	s := &server{
		cfg:      cfg,
		log:      withRequestLog(cfg.Logger),
		metrics:  cfg.Metrics,
		audit:    cfg.Audit,
		users:    deps.Users,
		clients:  deps.Clients,
		refresh:  deps.Refresh,
		sessions: deps.Sessions,
		codes:    deps.Codes,
		consents: deps.Consents,
		replay:   deps.Replay,
		pinger:   deps.Pinger,
		keys:     deps.Keys,
		hasher:   newHasher(cfg.Argon2, cfg.Argon2Limits, cfg.HashConcurrency, cfg.HashWait),
		throttle: newThrottle(cfg.Throttle),

		unavailableLog: logLimiter{every: unavailableLogEvery},
		proxies:        proxies{trusted: cfg.TrustedProxies, header: cfg.ForwardedHeader},

		signing: newSignQueue(runtime.GOMAXPROCS(0)),

		clientCache: newClientCache(cfg.ClientCacheTTL),
		clientJWKS:  newClientJWKSURIs(),
	}
	s.hasher.metrics = cfg.Metrics
	s.metadata = s.buildMetadata()
	s.pages = newPages(cfg.Issuer)
	s.cookies = newCookieNames(cfg.Issuer)
	s.forms = formKeys{keys: cfg.FormKeys}
	s.dpop = &dpop.Checker{}
	s.nonces = newNonceKeys(cfg.FormKeys)
	s.tokenURL = strings.TrimSuffix(cfg.Issuer, "/") + "/oauth2/token"
	s.userInfoURL = strings.TrimSuffix(cfg.Issuer, "/") + "/oauth2/userinfo"
	return s
}

// now is the server clock; the stores keep its times at their own precision.
func (s *server) now() time.Time { return s.cfg.Now().UTC() }
