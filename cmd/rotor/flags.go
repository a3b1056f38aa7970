package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/keys"
)

// usageError is a mistake on the command line; main exits 2 for it.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// config is every setting of every command. A command's row in the command
// table names the groups of flags it takes (storeFlags, keyFlags, …); each
// flag falls back to ROTOR_<NAME> in the environment (see parseFlags).
type config struct {
	// store
	database   string
	dataDir    string
	keks       string
	kekFile    string
	dbMaxConns int

	// key ring
	keyAlgs          string
	signingAlg       string
	rotationPeriod   time.Duration
	propagationDelay time.Duration
	pollInterval     time.Duration
	jwksMaxAge       time.Duration
	accessTTL        time.Duration

	// serve
	issuer          string
	listen          string
	refreshTTL      time.Duration
	reuseInterval   time.Duration
	maxFamilies     int
	clientCacheTTL  time.Duration
	sessionIdleTTL  time.Duration
	sessionTTL      time.Duration
	dpopNonce       bool
	hashConcurrency int
	trustedProxies  string
	forwardedHeader string
	logLevel        string
	logFormat       string
	demo            bool
	insecureHTTP    bool
	tlsCert, tlsKey string
	metricsListen   string
	auditLog        string

	// password hashing: serve and the users commands
	argon2Memory      uint
	argon2Iterations  uint
	argon2Parallelism uint
	argon2MaxMemory   uint
	argon2MaxIter     uint

	// admin
	json    bool
	client  clientSpec   // clients add
	profile profileFlags // users add, users update
	rotate  rotation     // keys rotate
}

// Defaults that more than one place needs.
const (
	defaultListen           = "127.0.0.1:8080"
	defaultJWKSMaxAge       = 5 * time.Minute
	defaultPollInterval     = 10 * time.Second
	defaultPropagationDelay = time.Hour
	defaultRotationPeriod   = 7 * 24 * time.Hour
	clockLeeway             = time.Minute // how far verifiers' clocks may lag when deciding that a retired key's tokens have expired
)

// jsonFlag is --json: admin commands print JSON for scripts instead of text.
func (c *config) jsonFlag(fs *flag.FlagSet) {
	fs.BoolVar(&c.json, "json", false, "print JSON")
}

// storeFlags say which store to open and how to open its private keys.
func (c *config) storeFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.database, "database", "", "Postgres URL (postgres://…); empty uses the embedded store under --data-dir")
	fs.StringVar(&c.dataDir, "data-dir", "rotor-data", "directory of the embedded store")
	fs.StringVar(&c.keks, "key-encryption-keys", "", "key-encryption keys `id:base64,…`; the first seals, all open (see rotor keys new-kek). Prefer ROTOR_KEY_ENCRYPTION_KEYS or --key-encryption-key-file: arguments show in ps")
	fs.StringVar(&c.kekFile, "key-encryption-key-file", "", "file holding the key-encryption keys (mode 600); the embedded store's default is <data-dir>.key-encryption-key, generated on first start")
	fs.IntVar(&c.dbMaxConns, "db-max-conns", 0, "most Postgres connections per process (0: 4 × GOMAXPROCS, between 4 and 32)")
}

// keyFlags are the key ring's lanes and timing, which serve and the keys
// commands must agree on.
func (c *config) keyFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.keyAlgs, "key-algs", "RS256,EdDSA", "signing-key lanes to keep")
	fs.DurationVar(&c.rotationPeriod, "key-rotation-period", defaultRotationPeriod, "automatic key rotation period (0 turns it off)")
	fs.DurationVar(&c.propagationDelay, "key-propagation-delay", defaultPropagationDelay, "how long a key is published before it may sign; at least --jwks-max-age + --key-poll-interval + 1s")
	fs.DurationVar(&c.pollInterval, "key-poll-interval", defaultPollInterval, "how often each replica re-reads the key ring (database notifications also trigger a reload)")
	fs.DurationVar(&c.jwksMaxAge, "jwks-max-age", defaultJWKSMaxAge, "Cache-Control max-age of the JWKS")
	fs.DurationVar(&c.accessTTL, "access-token-ttl", idp.DefaultAccessTokenTTL, "access token lifetime")
}

// serveFlags are serve's own flags; serve also takes the store, key ring
// and argon2id flags.
func (c *config) serveFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.issuer, "issuer", "", "issuer URL, the iss of every token (default http://<listen address>)")
	fs.StringVar(&c.listen, "listen", defaultListen, "address to listen on")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "PEM certificate chain file: serve https (with --tls-key); read at start, restart to renew")
	fs.StringVar(&c.tlsKey, "tls-key", "", "PEM private key file of --tls-cert")
	fs.BoolVar(&c.insecureHTTP, "insecure-http", false, "allow an http:// issuer on a host other than localhost and the loopback addresses (tokens, passwords and cookies then travel in clear text); see README, TLS")
	fs.StringVar(&c.signingAlg, "signing-alg", string(keys.RS256), "default access token algorithm: RS256 or EdDSA")
	fs.DurationVar(&c.refreshTTL, "refresh-token-ttl", idp.DefaultRefreshTokenTTL, "absolute lifetime of a refresh token family; rotation never extends it")
	fs.DurationVar(&c.reuseInterval, "refresh-reuse-interval", 0, "how long a spent refresh token may be retried before reuse revokes its family")
	fs.IntVar(&c.maxFamilies, "max-families-per-user-client", idp.DefaultMaxFamiliesPerUserClient, "live refresh-token families one user may hold with one client; each new one revokes the oldest beyond it (0: no cap)")
	fs.DurationVar(&c.sessionIdleTTL, "session-idle-ttl", idp.DefaultSessionIdleTTL, "a browser session unused this long ends (sign-in needs the password again)")
	fs.DurationVar(&c.sessionTTL, "session-ttl", idp.DefaultSessionTTL, "a browser session ends this long after the password was entered, however active")
	fs.DurationVar(&c.clientCacheTTL, "client-cache-ttl", idp.DefaultClientCacheTTL, "how long a replica reuses a client record it read (0 turns the cache off); a deleted client works at most this long")
	fs.BoolVar(&c.dpopNonce, "dpop-nonce", false, "DPoP proofs at the token endpoint must carry a nonce Rotor issued (RFC 9449 §8)")
	fs.IntVar(&c.hashConcurrency, "hash-concurrency", runtime.GOMAXPROCS(0), "password hashes at once; more wait, then get 503")
	fs.StringVar(&c.trustedProxies, "trusted-proxies", "", "CIDR list of proxies whose forwarding header names the client (default none: the peer is the client); see SECURITY.md")
	fs.StringVar(&c.forwardedHeader, "forwarded-header", idp.HeaderXForwardedFor, "header the trusted proxies write: X-Forwarded-For or Forwarded")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "text", "text or json")
	fs.BoolVar(&c.demo, "demo", false, "on the first start, create demo clients and a user and print their credentials; serve the demo's sign-in page at /demo/ (make run)")
}

// argon2Flags are the hashing parameters serve and the user commands share.
func (c *config) argon2Flags(fs *flag.FlagSet) {
	fs.UintVar(&c.argon2Memory, "argon2-memory", uint(idp.DefaultArgon2.Memory), "argon2id memory in KiB")
	fs.UintVar(&c.argon2Iterations, "argon2-iterations", uint(idp.DefaultArgon2.Iterations), "argon2id iterations")
	fs.UintVar(&c.argon2Parallelism, "argon2-parallelism", uint(idp.DefaultArgon2.Parallelism), "argon2id lanes")
	fs.UintVar(&c.argon2MaxMemory, "argon2-max-memory", 0, "largest argon2id memory in KiB a stored hash may ask for (0: 64 MiB, or --argon2-memory if larger)")
	fs.UintVar(&c.argon2MaxIter, "argon2-max-iterations", 0, "most argon2id iterations a stored hash may ask for (0: 10, or --argon2-iterations if larger)")
}

// argon2 returns the hashing parameters and the limits on stored hashes,
// checked by idp.CheckArgon2Settings, the one check serve and users share.
func (c *config) argon2() (argon2id.Params, idp.Argon2Limits, error) {
	p, l := idp.DefaultArgon2, idp.Argon2Limits{}
	for _, v := range []uint{c.argon2Memory, c.argon2Iterations, c.argon2MaxMemory, c.argon2MaxIter} {
		if v > 1<<32-1 {
			return p, l, usagef("argon2id settings out of range")
		}
	}
	if c.argon2Parallelism < 1 || c.argon2Parallelism > 255 {
		return p, l, usagef("--argon2-parallelism must be 1 to 255")
	}
	p.Memory, p.Iterations, p.Parallelism = uint32(c.argon2Memory), uint32(c.argon2Iterations), uint8(c.argon2Parallelism)
	l.MaxMemory, l.MaxIterations = uint32(c.argon2MaxMemory), uint32(c.argon2MaxIter)
	if err := idp.CheckArgon2Settings(p, l); err != nil {
		return p, l, usagef("%v", err)
	}
	return p, l, nil
}

// proxies parses --trusted-proxies and --forwarded-header.
func (c *config) proxies() ([]netip.Prefix, string, error) {
	trusted, err := idp.ParseTrustedProxies(c.trustedProxies)
	if err != nil {
		return nil, "", usagef("--trusted-proxies: %v", err)
	}
	for _, h := range []string{idp.HeaderXForwardedFor, idp.HeaderForwarded} {
		if strings.EqualFold(c.forwardedHeader, h) {
			return trusted, h, nil
		}
	}
	return nil, "", usagef("--forwarded-header %q: want X-Forwarded-For or Forwarded", c.forwardedHeader)
}

// listFlag is a list flag that may be repeated; each value is split at
// commas and white space (neither appears unencoded in a redirect URI worth
// having: a comma in one must be written %2C).
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })...)
	return nil
}

// optString is a string flag that knows whether it was given, so that an
// update can tell "set to empty" from "leave alone".
type optString struct {
	v   string
	set bool
}

func (o *optString) String() string { return o.v }

func (o *optString) Set(v string) error {
	o.v, o.set = v, true
	return nil
}

// ptr returns the value if the flag was given, else nil.
func (o *optString) ptr() *string {
	if !o.set {
		return nil
	}
	return &o.v
}

// optBool is a boolean flag that knows whether it was given: --flag,
// --flag=true and --flag=false.
type optBool struct {
	v   bool
	set bool
}

func (o *optBool) String() string { return strconv.FormatBool(o.v) }

func (o *optBool) Set(v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New("want true or false")
	}
	o.v, o.set = b, true
	return nil
}

func (o *optBool) IsBoolFlag() bool { return true }

func (o *optBool) ptr() *bool {
	if !o.set {
		return nil
	}
	return &o.v
}

// envName is the environment fallback of a flag: --key-poll-interval reads
// ROTOR_KEY_POLL_INTERVAL.
func envName(flagName string) string {
	return "ROTOR_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags parses args (flags may come before, between or after the
// positional arguments), then fills every flag not given on the command line
// from its environment variable. It returns the positional arguments.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string, stderr io.Writer) ([]string, error) {
	fs.SetOutput(stderr)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error() + dashHint(err)}
		}
		rest := fs.Args()
		if ended(fs, args[:len(args)-len(rest)]) {
			positional = append(positional, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if given["key-encryption-keys"] {
		// Any user of the machine can read a process's arguments.
		fmt.Fprintln(stderr, "warning: --key-encryption-keys on the command line is visible to every user of this machine (ps); "+
			"pass it in ROTOR_KEY_ENCRYPTION_KEYS or a file named by --key-encryption-key-file")
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = usagef("%s: %v", envName(f.Name), e)
			}
		}
	})
	return positional, err
}

// algs parses --key-algs; keys.ParseAlg knows which algorithms exist.
func (c *config) algs() ([]keys.Alg, error) {
	var out []keys.Alg
	for _, s := range strings.Split(c.keyAlgs, ",") {
		a, err := keys.ParseAlg(strings.TrimSpace(s))
		if err != nil {
			return nil, usagef("--key-algs: %v", err)
		}
		out = append(out, a)
	}
	return out, nil
}

// policy checks the key timing settings and returns the rotation policy. The
// propagation invariant is the heart of zero-downtime rotation: a key must be
// in every cache before it signs, and a cache can lag by the JWKS max-age
// plus the time a replica takes to notice the new key.
func (c *config) policy() (keys.Policy, error) {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"access-token-ttl", c.accessTTL}, {"key-poll-interval", c.pollInterval}, {"jwks-max-age", c.jwksMaxAge}, {"key-propagation-delay", c.propagationDelay}} {
		if d.v <= 0 {
			return keys.Policy{}, usagef("--%s must be positive", d.name)
		}
	}
	if c.jwksMaxAge < time.Second {
		return keys.Policy{}, usagef("--jwks-max-age must be at least 1s (Cache-Control counts whole seconds)")
	}
	if minP := keys.MinPropagationDelay(c.jwksMaxAge, c.pollInterval); c.propagationDelay < minP {
		return keys.Policy{}, usagef("--key-propagation-delay %v is too short: a new key must be published for at least "+
			"--jwks-max-age (%v) + --key-poll-interval (%v) + 1s = %v before it signs, or some verifiers would not know it yet. "+
			"Raise --key-propagation-delay (ROTOR_KEY_PROPAGATION_DELAY) to %v or more, or lower --jwks-max-age / --key-poll-interval",
			c.propagationDelay, c.jwksMaxAge, c.pollInterval, minP, minP)
	}
	if c.rotationPeriod < 0 {
		return keys.Policy{}, usagef("--key-rotation-period must not be negative")
	}
	if c.rotationPeriod > 0 && c.rotationPeriod <= c.propagationDelay {
		return keys.Policy{}, usagef("--key-rotation-period (%v) must be longer than --key-propagation-delay (%v)", c.rotationPeriod, c.propagationDelay)
	}
	return keys.Policy{
		RotationPeriod:   c.rotationPeriod,
		PropagationDelay: c.propagationDelay,
		// A retired key stays published until every token it signed has
		// expired everywhere: the longest a replica may still sign with it
		// (poll), the token lifetime, clock leeway, and the JWKS max-age.
		RetireAfter: c.pollInterval + c.accessTTL + clockLeeway + c.jwksMaxAge,
	}, nil
}

// checkIssuer enforces RFC 8414 §2: an https URL with no query or
// fragment. http is for development on this machine: it is allowed only
// for localhost and the loopback addresses, unless insecureHTTP says the
// operator knows better (e.g. a private network the traffic never leaves).
func checkIssuer(s string, insecureHTTP bool) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return usagef("--issuer %q must be an absolute http(s) URL", s)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return usagef("--issuer %q must not have a query, fragment or user info (RFC 8414 §2)", s)
	}
	if u.Scheme == "http" && !insecureHTTP && !loopbackHost(u.Hostname()) {
		return usagef("--issuer %q is http on a host that is not loopback: passwords, codes and tokens would cross the "+
			"network in clear text (RFC 6749 §3.1, §10.9). Serve Rotor over https (--tls-cert/--tls-key, or behind a "+
			"proxy that terminates TLS, with an https issuer), or pass --insecure-http if you really mean it", s)
	}
	return nil
}

// loopbackHost reports whether host is localhost or a loopback IP literal.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ended reports whether the flags parsed from consumed ended with the "--"
// terminator, after which every argument is positional (a key id may start
// with "-"), rather than with "--" as the value of a flag.
func ended(fs *flag.FlagSet, consumed []string) bool {
	n := len(consumed)
	if n == 0 || consumed[n-1] != "--" {
		return false
	}
	return n == 1 || !takesValue(fs, consumed[n-2])
}

// takesValue reports whether arg is a flag of fs that takes its value from
// the next argument: not a boolean, and not written name=value.
func takesValue(fs *flag.FlagSet, arg string) bool {
	name := strings.TrimLeft(arg, "-")
	if name == arg || strings.Contains(name, "=") {
		return false
	}
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

// dashHint adds to an unknown-flag error that names something shaped like
// an id rather than a flag (a key id is 43 characters and may start with
// "-") how to pass it.
func dashHint(err error) string {
	name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: ")
	if !ok || len(strings.TrimLeft(name, "-")) < 20 {
		return ""
	}
	return ` (an argument that starts with "-", such as a key id, goes after --: rotor keys revoke -- KID)`
}
