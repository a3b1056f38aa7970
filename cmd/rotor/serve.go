package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/keys"
)

// HTTP server limits. Token requests are small and fast; these bound what a
// slow or hostile client can hold.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 16 << 10
	shutdownTimeout   = 20 * time.Second
	purgeInterval     = time.Hour
)

func cmdServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c config
	fs := flag.NewFlagSet("rotor serve", flag.ContinueOnError)
	c.serveFlags(fs)
	demo := fs.Bool("demo", false, "on the first start, create a demo client and user and print their credentials (make run)")
	if _, err := parseFlags(fs, args, getenv, stderr); err != nil {
		return err
	}
	log, err := newLogger(c.logLevel, c.logFormat, stderr)
	if err != nil {
		return err
	}
	policy, err := c.policy()
	if err != nil {
		return err
	}
	algs, err := c.algs()
	if err != nil {
		return err
	}
	if !slices.Contains(algs, keys.Alg(c.signingAlg)) {
		return usagef("--signing-alg %q must be one of --key-algs (%s)", c.signingAlg, c.keyAlgs)
	}
	argon, argonLimits, err := c.argon2()
	if err != nil {
		return err
	}
	trusted, fwdHeader, err := c.proxies()
	if err != nil {
		return err
	}
	if c.refreshTTL <= 0 || c.reuseInterval < 0 {
		return usagef("--refresh-token-ttl must be positive and --refresh-reuse-interval not negative")
	}

	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.listen, err)
	}
	defer ln.Close()
	issuer := c.issuer
	if issuer == "" {
		issuer = defaultIssuer(ln.Addr())
	}
	if err := checkIssuer(issuer); err != nil {
		return err
	}

	be, err := openBackend(ctx, &c, forServe, log)
	if err != nil {
		return err
	}
	defer be.Close()

	mgr, err := keys.NewManager(be.st, keys.Config{
		Algs: algs, Policy: policy, PollInterval: c.pollInterval, KEKs: be.keks, Logger: log,
		// Maintenance promotes a due next key; checking a few times per
		// propagation delay keeps scheduled rotations on time even with
		// the short timings tests use.
		MaintainInterval: min(keys.DefaultMaintainInterval, policy.PropagationDelay/3),
	})
	if err != nil {
		return err
	}
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("key ring: %w", err)
	}

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	go mgr.Run(bg)
	go purgeRefresh(bg, be.st, log)

	handler := idp.NewServer(idp.Config{
		Issuer: issuer, Algs: algs, DefaultAlg: keys.Alg(c.signingAlg),
		AccessTokenTTL: c.accessTTL, RefreshTokenTTL: c.refreshTTL, RefreshReuseInterval: c.reuseInterval,
		JWKSMaxAge: c.jwksMaxAge, Argon2: argon, HashConcurrency: c.hashConcurrency, Logger: log,
		ClientCacheTTL: cacheTTL(c.clientCacheTTL),
		Argon2Limits:   argonLimits, TrustedProxies: trusted, ForwardedHeader: fwdHeader,
	}, idp.Deps{Users: be.st, Clients: be.st, Refresh: be.st, Pinger: be.st, Keys: mgr})

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("rotor listening", "addr", ln.Addr().String(), "issuer", issuer, "store", be.kind)
	if *demo {
		if err := seedDemo(ctx, be.st, issuer, argon, stdout); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	// Drain: stop accepting, let in-flight requests finish.
	log.Info("rotor shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("rotor stopped")
	return nil
}

// defaultIssuer is http://<listen address>, with a wildcard host shown as
// localhost: fine for development, and production sets --issuer.
func defaultIssuer(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// purgeRefresh deletes expired refresh-token families once an hour, so the
// tables do not grow without bound.
func purgeRefresh(ctx context.Context, rs idp.RefreshStore, log *slog.Logger) {
	t := time.NewTicker(purgeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := rs.PurgeRefresh(ctx, time.Now().UTC())
		if err != nil {
			log.Warn("purging expired refresh tokens failed", "error", err.Error())
		} else if n > 0 {
			log.Info("purged expired refresh token families", "count", n)
		}
	}
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
