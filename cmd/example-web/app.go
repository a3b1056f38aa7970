package main

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// cookieName is the session cookie: it holds a random id and nothing else.
const cookieName = "example_web_session"

// app is the front end: a relying party of Rotor and a client of the
// schedules API.
type app struct {
	issuer     string
	provider   *oidc.Provider
	verifier   *oidc.IDTokenVerifier
	oauth      *oauth2.Config
	endSession string // Rotor's end_session_endpoint
	api        string // the schedules API's base URL
	baseURL    string // this front end's own URL, as the browser sees it
	margin     time.Duration
	store      sessionStore
	http       *http.Client
	log        *slog.Logger
	secure     bool // cookies only over https

	locks sync.Map // session id hash → *sync.Mutex: one refresh at a time per session
}

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET /callback", a.callback)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("GET /signed-out", a.signedOut)
	mux.HandleFunc("GET /style.css", serveCSS)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	return securityHeaders(a.issuer, mux)
}

// securityHeaders sets what every answer carries: pages that cannot be
// framed or cached, and a CSP that allows this site's stylesheet and forms
// that post here (the sign-out form's redirect goes on to Rotor).
func securityHeaders(issuer string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action 'self' "+issuer+"; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// current returns the browser's session and its id, or nil.
func (a *app) current(r *http.Request) (string, *session) {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" || len(c.Value) > 64 {
		return "", nil
	}
	s, err := a.store.Get(c.Value)
	if err != nil {
		if err != errNoSession {
			a.log.Error("session store", "err", err)
		}
		return "", nil
	}
	return c.Value, s
}

func (a *app) setCookie(w http.ResponseWriter, id string) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/", HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode})
}

func (a *app) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode})
}

// lock serialises the refreshes of one session: two requests refreshing
// with the same refresh token at once would present a spent token, and
// Rotor answers that by revoking the whole family (RFC 9700 §4.14.2).
func (a *app) lock(id string) func() {
	m, _ := a.locks.LoadOrStore(idKey(id), &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// clientContext makes x/oauth2 and go-oidc use the app's HTTP client (with
// its timeout) for the calls they make to Rotor.
func (a *app) clientContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, a.http)
}

// forget ends the local session.
func (a *app) forget(w http.ResponseWriter, id string) {
	if err := a.store.Delete(id); err != nil {
		a.log.Error("session store", "err", err)
	}
	a.locks.Delete(idKey(id))
	a.clearCookie(w)
}
