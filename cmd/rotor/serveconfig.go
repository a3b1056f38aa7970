package main

import (
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/keys"
)

// serveSettings are serve's flags, checked and in the forms the packages
// take. Building them finds everything a command line can get wrong before
// Rotor listens or touches the store.
type serveSettings struct {
	log    *slog.Logger
	policy keys.Policy
	algs   []keys.Alg
	argon2 argon2id.Params
	limits idp.Argon2Limits // bounds on the parameters of stored hashes

	trustedProxies  []netip.Prefix
	forwardedHeader string
}

// serveSettings checks serve's flags; its errors are usage errors.
func (c *config) serveSettings(stderr io.Writer) (serveSettings, error) {
	var s serveSettings
	var err error
	if s.log, err = newLogger(c.logLevel, c.logFormat, stderr); err != nil {
		return s, err
	}
	if s.policy, err = c.policy(); err != nil {
		return s, err
	}
	if s.algs, err = c.algs(); err != nil {
		return s, err
	}
	if !slices.Contains(s.algs, keys.Alg(c.signingAlg)) {
		return s, usagef("--signing-alg %q must be one of --key-algs (%s)", c.signingAlg, c.keyAlgs)
	}
	if s.argon2, s.limits, err = c.argon2(); err != nil {
		return s, err
	}
	if s.trustedProxies, s.forwardedHeader, err = c.proxies(); err != nil {
		return s, err
	}
	if c.refreshTTL <= 0 || c.reuseInterval < 0 {
		return s, usagef("--refresh-token-ttl must be positive and --refresh-reuse-interval not negative")
	}
	if c.maxFamilies < 0 {
		return s, usagef("--max-families-per-user-client must not be negative (0: no cap)")
	}
	if c.sessionIdleTTL <= 0 || c.sessionTTL <= 0 || c.sessionIdleTTL > c.sessionTTL {
		return s, usagef("--session-idle-ttl and --session-ttl must be positive, and the idle one no longer than --session-ttl")
	}
	return s, nil
}

// keysConfig is the key manager's configuration.
func (c *config) keysConfig(s serveSettings, keks *keys.KEKSet) keys.Config {
	return keys.Config{
		Algs: s.algs, Policy: s.policy, PollInterval: c.pollInterval, KEKs: keks, Logger: s.log,
		// Maintenance promotes a due next key; checking a few times per
		// propagation delay keeps scheduled rotations on time even with
		// the short timings tests use.
		MaintainInterval: min(keys.DefaultMaintainInterval, s.policy.PropagationDelay/3),
	}
}

// formKeyLabel names the HKDF derivation of the CSRF keys of Rotor's pages
// from the key-encryption keys, which every replica shares.
const formKeyLabel = "rotor-page-forms:v1"

// idpConfig is the token service's configuration.
func (c *config) idpConfig(s serveSettings, issuer string, keks *keys.KEKSet) idp.Config {
	return idp.Config{
		SessionIdleTTL: c.sessionIdleTTL, SessionTTL: c.sessionTTL, FormKeys: keks.DeriveKeys(formKeyLabel),
		Issuer: issuer, Algs: s.algs, DefaultAlg: keys.Alg(c.signingAlg),
		AccessTokenTTL: c.accessTTL, RefreshTokenTTL: c.refreshTTL, RefreshReuseInterval: c.reuseInterval,
		JWKSMaxAge: c.jwksMaxAge, Argon2: s.argon2, HashConcurrency: c.hashConcurrency, Logger: s.log,
		ClientCacheTTL:           cacheTTL(c.clientCacheTTL),
		MaxFamiliesPerUserClient: familyCap(c.maxFamilies),
		DPoPNonce:                c.dpopNonce,
		Argon2Limits:             s.limits, TrustedProxies: s.trustedProxies, ForwardedHeader: s.forwardedHeader,
	}
}

// familyCap is idp.Config.MaxFamiliesPerUserClient for the flag's value,
// where 0 means no cap.
func familyCap(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

func newLogger(level, format string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("--log-format %q: want text or json", format)
}

// cacheTTL maps the flag's "0 turns it off" onto idp.Config's "negative
// disables" (whose zero means the default).
func cacheTTL(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}
