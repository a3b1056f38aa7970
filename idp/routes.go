package idp

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
)

// routes is Rotor's whole HTTP surface.
func (s *server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(s.observe, s.recoverer, s.accessLog)

	r.Post("/oauth2/token", s.handleToken)           // RFC 6749 §3.2
	r.Post("/oauth2/revoke", s.handleRevoke)         // RFC 7009
	r.Post("/oauth2/introspect", s.handleIntrospect) // RFC 7662

	// Browser sign-in and OpenID Connect.
	r.Get("/oauth2/authorize", s.handleAuthorize) // RFC 6749 §3.1, OIDC Core §3.1.2
	r.Post("/oauth2/authorize", s.handleAuthorize)
	r.Post("/login", s.handleLogin)             // the login page's form
	r.Post("/consent", s.handleConsent)         // the consent page's form
	r.Get("/oauth2/userinfo", s.handleUserInfo) // OIDC Core §5.3
	r.Post("/oauth2/userinfo", s.handleUserInfo)
	r.Get("/oauth2/logout", s.handleLogout) // OIDC RP-Initiated Logout 1.0
	r.Post("/oauth2/logout", s.handleLogout)
	r.Get(cssRoute, s.handleCSS)

	r.Get("/.well-known/jwks.json", s.handleJWKS) // RFC 7517 §5
	r.Head("/.well-known/jwks.json", s.handleJWKS)
	r.Get("/.well-known/oauth-authorization-server", s.handleMetadata) // RFC 8414 §3
	r.Get("/.well-known/openid-configuration", s.handleMetadata)

	r.Get("/healthz", s.handleHealthz) // liveness
	r.Get("/readyz", s.handleReadyz)   // readiness: store reachable, key ring loaded

	r.NotFound(s.handleNotFound)
	r.MethodNotAllowed(notAllowed(r))
	return r
}

// recoverer turns a panic into a bare 500: nothing about it reaches the client.
func (s *server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.LogAttrs(r.Context(), slog.LevelError, "handler panic", slog.String("path", r.URL.Path), slog.Any("panic", v))
				s.writeError(w, r, errServer(nil))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// accessLog logs each request at debug level: method, path, status and
// duration — never the query, headers or body, which can carry credentials.
func (s *server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.log.Enabled(r.Context(), slog.LevelDebug) {
			w.Header()["X-Content-Type-Options"] = hdrNoSniff
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		w.Header()["X-Content-Type-Options"] = hdrNoSniff
		next.ServeHTTP(sw, r)
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
