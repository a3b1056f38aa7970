package idp

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
)

// handleNotFound answers a path Rotor does not serve with the headers
// every other answer has: never cached (Cache-Control: no-store), not
// framed, no referrer, no sniffing (set by accessLog), a CSP that lets the
// text body do nothing.
func (s *server) handleNotFound(w http.ResponseWriter, _ *http.Request) {
	writeBare(w, http.StatusNotFound)
}

// notAllowed answers a method a path does not take the same way, with the
// Allow header (RFC 9110 §15.5.6) chi's own answer would carry.
func notAllowed(mux *chi.Mux) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
			http.MethodPatch, http.MethodDelete, http.MethodOptions} {
			if mux.Match(chi.NewRouteContext(), m, r.URL.Path) {
				w.Header().Add("Allow", m)
			}
		}
		writeBare(w, http.StatusMethodNotAllowed)
	}
}

// writeBare writes status, a one-line text body and the security headers.
func writeBare(w http.ResponseWriter, status int) {
	h := w.Header()
	h["Cache-Control"] = hdrNoStore
	h["Pragma"] = hdrNoCache
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	body := strings.ToLower(http.StatusText(status)) + "\n"
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
