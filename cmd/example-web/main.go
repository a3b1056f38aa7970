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
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "example-web:", err)
		os.Exit(1)
	}
}

// config is the command line; every flag also reads EXAMPLE_WEB_<NAME>.
type config struct {
	issuer, clientID, clientSecret, api, listen, publicURL, sessionDir, logLevel string
	margin, sessionTTL                                                           time.Duration
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	var c config
	fs := flag.NewFlagSet("example-web", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.issuer, "issuer", "http://127.0.0.1:8080", "Rotor's issuer URL (found by OpenID Connect discovery)")
	fs.StringVar(&c.clientID, "client-id", "web", "this front end's client id at Rotor")
	fs.StringVar(&c.clientSecret, "client-secret", "", "its client secret (better given as EXAMPLE_WEB_CLIENT_SECRET: argv is visible to every user)")
	fs.StringVar(&c.api, "api", "http://127.0.0.1:8081", "the schedules API (cmd/example-api)")
	fs.StringVar(&c.listen, "listen", "127.0.0.1:5000", "address to listen on")
	fs.StringVar(&c.publicURL, "url", "", "this front end's URL as browsers see it (default: http:// and the listening address)")
	fs.StringVar(&c.sessionDir, "session-dir", "", "keep sessions in this directory (default: in memory)")
	fs.DurationVar(&c.margin, "refresh-margin", 30*time.Second, "refresh the access token when it has less than this left")
	fs.DurationVar(&c.sessionTTL, "session-ttl", 12*time.Hour, "forget a session this long after sign-in")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := "EXAMPLE_WEB_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" && !given[f.Name] && envErr == nil {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("%s: %w", name, err)
			}
		}
	})
	return &c, envErr
}

func run(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, _, stderr io.Writer) error {
	c, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	if c.publicURL == "" {
		c.publicURL = "http://" + ln.Addr().String()
	}
	a, err := newApp(ctx, c, log)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("example-web listening", "addr", ln.Addr().String(), "url", c.publicURL, "issuer", c.issuer)
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// newApp finds Rotor by discovery, waiting for it (in a compose file the
// front end may start first), and sets up the relying party.
func newApp(ctx context.Context, c *config, log *slog.Logger) (*app, error) {
	u, err := url.Parse(c.publicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--url %q: want an http or https URL", c.publicURL)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	pctx := oidc.ClientContext(ctx, client)
	var provider *oidc.Provider
	for attempt := 0; ; attempt++ {
		if provider, err = oidc.NewProvider(pctx, c.issuer); err == nil {
			break
		}
		if attempt == 0 {
			log.Warn("waiting for Rotor's discovery document", "issuer", c.issuer, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("discovery at %s: %w", c.issuer, err)
		case <-time.After(time.Second):
		}
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil {
		return nil, err
	}
	var store sessionStore = newMemStore(c.sessionTTL)
	if c.sessionDir != "" {
		if store, err = newDirStore(c.sessionDir, c.sessionTTL); err != nil {
			return nil, err
		}
	}
	return &app{
		issuer:   c.issuer,
		provider: provider,
		verifier: provider.Verifier(&oidc.Config{ClientID: c.clientID}),
		oauth: &oauth2.Config{
			ClientID: c.clientID, ClientSecret: c.clientSecret, Endpoint: provider.Endpoint(),
			RedirectURL: strings.TrimSuffix(c.publicURL, "/") + "/callback",
			Scopes:      []string{oidc.ScopeOpenID, "profile", oidc.ScopeOfflineAccess, "schedules:read"},
		},
		endSession: meta.EndSession,
		api:        strings.TrimSuffix(c.api, "/"),
		baseURL:    strings.TrimSuffix(c.publicURL, "/"),
		margin:     c.margin,
		store:      store,
		http:       client,
		log:        log,
		secure:     u.Scheme == "https",
	}, nil
}
