package idp

import (
	"net/http"
	"strconv"
	"strings"
)

// handleJWKS serves the key ring's public keys (RFC 7517 §5) from bytes the
// ring precomputed, so it never touches the database and keeps working while
// the database is down. Caches revalidate with If-None-Match (RFC 9110 §13.1.2).
func (s *server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	snap := s.keys.Snapshot()
	if !snap.Loaded() {
		s.metrics.jwksServed(http.StatusServiceUnavailable)
		s.writeError(w, r, errUnavailable(nil))
		return
	}
	body, etag := snap.JWKS()
	h := w.Header()
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(s.cfg.JWKSMaxAge.Seconds())))
	h.Set("ETag", etag)
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		s.metrics.jwksServed(http.StatusNotModified)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/jwk-set+json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	s.metrics.jwksServed(http.StatusOK)
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// etagMatches applies If-None-Match's weak comparison (RFC 9110 §13.1.2).
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	etag = strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
