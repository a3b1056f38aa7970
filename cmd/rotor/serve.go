package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/internal/audit"
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

var serveCommand = command{
	name: "serve", synopsis: "[flags]", summary: "run the server",
	flags: []flagger{(*config).storeFlags, (*config).keyFlags, (*config).argon2Flags, (*config).serveFlags,
		(*config).metricsFlags, (*config).auditFlags},
	run: serve,
}

// serve runs Rotor until ctx ends: it checks the settings, listens, opens
// the store, starts the key ring and serves HTTP.
func serve(ctx context.Context, in *invocation) error {
	c := in.cfg
	s, err := c.serveSettings(in.stderr)
	if err != nil {
		return err
	}
	ln, issuer, err := listen(c)
	if err != nil {
		return err
	}
	defer ln.Close()
	tel, err := newTelemetry(c, in.stderr)
	if err != nil {
		return err
	}
	defer tel.Close()
	be, err := openBackend(ctx, c, forServe, s.log)
	if err != nil {
		return err
	}
	defer be.Close()
	tel.watchStore(be.st)
	kc := c.keysConfig(s, be.keks)
	kc.Events = keyEvents(tel.audit, audit.Scheduler, tel.ring)
	mgr, err := keys.NewManager(be.st, kc)
	if err != nil {
		return err
	}
	if tel.ring != nil {
		tel.ring.SetSource(mgr)
	}
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("key ring: %w", err)
	}

	// Background work outlives ctx until the server has drained: in-flight
	// requests still sign with the ring.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	go mgr.Run(bg)
	go purgeExpired(bg, be.st, s.log)
	tel.serve(bg, s.log)

	ic := c.idpConfig(s, issuer, be.keks)
	ic.Metrics, ic.Audit = tel.idp, tel.audit
	var handler http.Handler = idp.NewServer(ic, idp.Deps{
		Users: be.st, Clients: be.st, Refresh: be.st, Sessions: be.st, Codes: be.st, Consents: be.st, Replay: be.st, Pinger: be.st, Keys: mgr,
	})
	var demo *demoSite
	if c.demo {
		demo = newDemoSite(handler, issuer, ln.Addr(), mgr)
		handler = demo
	}
	return serveHTTP(ctx, ln, handler, s.log, func() error {
		s.log.Info("rotor listening", "addr", ln.Addr().String(), "issuer", issuer, "store", be.kind)
		if !c.demo {
			return nil
		}
		if err := seedDemo(ctx, be.st, issuer, demo.startURL, s.argon2, in.stdout); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		return nil
	})
}

// listen opens the listening socket, with TLS if --tls-cert is given, and
// works out the issuer, which defaults to the address it got (with --listen
// on port 0, the kernel picks the port).
func listen(c *config) (net.Listener, string, error) {
	tlsConf, err := c.tlsConfig()
	if err != nil {
		return nil, "", err
	}
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return nil, "", fmt.Errorf("listen on %s: %w", c.listen, err)
	}
	issuer := c.issuer
	if issuer == "" {
		issuer = defaultIssuer(ln.Addr(), tlsConf != nil)
	}
	if err := checkIssuer(issuer, c.insecureHTTP); err != nil {
		ln.Close()
		return nil, "", err
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	return ln, issuer, nil
}

// tlsConfig loads --tls-cert and --tls-key; nil if neither is given.
func (c *config) tlsConfig() (*tls.Config, error) {
	switch {
	case c.tlsCert == "" && c.tlsKey == "":
		return nil, nil
	case c.tlsCert == "" || c.tlsKey == "":
		return nil, usagef("--tls-cert and --tls-key go together")
	}
	cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
	if err != nil {
		// The error names the files and what is wrong, never key material.
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}, nil
}

// serveHTTP serves handler on ln until ctx ends, then drains: it stops
// accepting connections and lets in-flight requests finish, for up to
// shutdownTimeout. started runs once the server is accepting; an error from
// it stops the server at once.
func serveHTTP(ctx context.Context, ln net.Listener, handler http.Handler, log *slog.Logger, started func() error) error {
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
	if err := started(); err != nil {
		srv.Close()
		return err
	}
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
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
func defaultIssuer(addr net.Addr, https bool) string {
	scheme := "http://"
	if https {
		scheme = "https://"
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return scheme + addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return scheme + net.JoinHostPort(host, port)
}

// purgeExpired deletes expired refresh-token families, browser sessions and
// authorization codes once an hour, so the tables do not grow without bound.
func purgeExpired(ctx context.Context, st purger, log *slog.Logger) {
	t := time.NewTicker(purgeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		purgeOnce(ctx, st, time.Now().UTC(), log)
	}
}

// purger is what housekeeping deletes from.
type purger interface {
	PurgeRefresh(ctx context.Context, cutoff time.Time) (int, error)
	PurgeSessions(ctx context.Context, cutoff time.Time) (int, error)
	PurgeCodes(ctx context.Context, cutoff time.Time) (int, error)
	PurgeReplay(ctx context.Context, cutoff time.Time) (int, error)
}

// purgeOnce runs each purge once, side by side, logging what it did; one
// failing does not stop the others, and a large backlog in one table (a
// purge rests idp.PurgeRest times as long as each batch took, so millions of
// expired families take hours) does not hold back the others. Codes are kept
// for idp.CodeRetention after they expire, so that a late replay still
// revokes what was issued from them.
func purgeOnce(ctx context.Context, st purger, now time.Time, log *slog.Logger) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, p := range []struct {
		what   string
		purge  func(context.Context, time.Time) (int, error)
		cutoff time.Time
	}{
		{"refresh token families", st.PurgeRefresh, now},
		{"browser sessions", st.PurgeSessions, now},
		{"authorization codes", st.PurgeCodes, now.Add(-idp.CodeRetention)},
		{"used JWT ids", st.PurgeReplay, now},
	} {
		wg.Go(func() {
			n, err := p.purge(ctx, p.cutoff)
			if err != nil {
				log.Warn("purging expired "+p.what+" failed", "error", err.Error())
			} else if n > 0 {
				log.Info("purged expired "+p.what, "count", n)
			}
		})
	}
}
