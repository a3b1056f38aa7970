package idp

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Browser sessions (single sign-on). The session cookie holds 256 random
// bits; the store keeps only their SHA-256 (Session.Hash). Over https the
// cookies carry the __Host- prefix, which browsers accept only with Secure,
// Path=/ and no Domain, so no other host (a sibling subdomain included) can
// set or overwrite them. On http, which Rotor accepts only for development
// on loopback, the plain names are used: SessionCookie and CSRFCookie.
const (
	SessionCookie = "rotor_session"
	CSRFCookie    = "rotor_csrf"
	hostPrefix    = "__Host-"
)

// cookieNames are the names for this issuer, and whether they are Secure.
type cookieNames struct {
	session, csrf string
	secure        bool
}

func newCookieNames(issuer string) cookieNames {
	if u, err := url.Parse(issuer); err == nil && u.Scheme == "https" {
		return cookieNames{session: hostPrefix + SessionCookie, csrf: hostPrefix + CSRFCookie, secure: true}
	}
	return cookieNames{session: SessionCookie, csrf: CSRFCookie}
}

// cookie returns a cookie with Rotor's attributes: HttpOnly (no script
// reads it), SameSite=Lax (not sent with cross-site POSTs, sent on the
// top-level navigation that brings a user from a client), Path=/, Secure
// over https. expires zero makes it a browser-session cookie.
func (n cookieNames) cookie(name, value string, expires time.Time) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: n.secure, SameSite: http.SameSiteLaxMode}
	if !expires.IsZero() {
		c.Expires = expires
		c.MaxAge = max(1, int(time.Until(expires)/time.Second))
	}
	return c
}

// clear returns a cookie that deletes name.
func (n cookieNames) clear(name string) *http.Cookie {
	return &http.Cookie{Name: name, Value: "", Path: "/", HttpOnly: true, Secure: n.secure, SameSite: http.SameSiteLaxMode, MaxAge: -1}
}

// b64Strict decodes base64url without padding and refuses non-canonical
// trailing bits, so one value has one spelling.
var b64Strict = base64.RawURLEncoding.Strict()

// secretLen is the length of a cookie value or code: 32 random bytes,
// base64url.
var secretLen = base64.RawURLEncoding.EncodedLen(32)

// newSecret returns 256 random bits, base64url, and their SHA-256.
func newSecret() (string, []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	v := base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(v))
	return v, sum[:]
}

// secretHash checks the shape of a presented cookie value or code and
// returns its SHA-256; anything else never reaches the store.
func secretHash(v string) ([]byte, bool) {
	if len(v) != secretLen {
		return nil, false
	}
	if _, err := b64Strict.DecodeString(v); err != nil {
		return nil, false
	}
	sum := sha256.Sum256([]byte(v))
	return sum[:], true
}

// cookieValue returns the value of the one cookie called name; "" if there
// is none, or more than one (a planted duplicate is not guessed between).
func cookieValue(r *http.Request, name string) string {
	cs := r.CookiesNamed(name)
	if len(cs) != 1 {
		return ""
	}
	return cs[0].Value
}

// touchEvery is how stale a session's LastSeenAt may get before a request
// moves its idle expiry on: one write a minute at most, not one per request.
const touchEvery = time.Minute

// currentSession returns the browser's live session, or nil if it has none
// (no cookie, an unknown, ended or expired one). It moves the idle expiry on
// when the session was last seen more than touchEvery ago.
func (s *server) currentSession(r *http.Request, now time.Time) (*Session, error) {
	hash, ok := secretHash(cookieValue(r, s.cookies.session))
	if !ok {
		return nil, nil
	}
	se, err := s.sessions.SessionByHash(r.Context(), hash, now)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !s.touch(r, &se, now) {
		return nil, nil // ended in between
	}
	return &se, nil
}

// touch moves the session's idle expiry on when it was last seen more than
// touchEvery ago. It reports false if the session has ended meanwhile.
func (s *server) touch(r *http.Request, se *Session, now time.Time) bool {
	if now.Sub(se.LastSeenAt) < touchEvery {
		return true
	}
	idle := now.Add(s.cfg.SessionIdleTTL)
	switch err := s.sessions.TouchSession(r.Context(), se.ID, now, idle); {
	case errors.Is(err, ErrNotFound):
		return false
	case err != nil:
		// The session is live; a missed touch only means it may idle out
		// a minute early.
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "session touch failed", slog.String("error", err.Error()))
	default:
		se.LastSeenAt, se.IdleExpiresAt = now, idle
		if idle.After(se.ExpiresAt) {
			se.IdleExpiresAt = se.ExpiresAt
		}
	}
	return true
}

// startSession creates a session for a user who just signed in with a
// password and sets its cookie. The cookie value is always new: a value the
// browser had before (one an attacker may have planted, session fixation)
// never becomes a signed-in session. The browser's previous session, if
// any, is left to expire; its cookie is overwritten.
func (s *server) startSession(w http.ResponseWriter, r *http.Request, u User, now time.Time) (*Session, error) {
	value, hash := newSecret()
	se := Session{
		ID: randomID(), Hash: hash, UserID: u.ID, AuthTime: now, AMR: []string{"pwd"},
		CreatedAt: now, LastSeenAt: now,
		IdleExpiresAt: now.Add(s.cfg.SessionIdleTTL), ExpiresAt: now.Add(s.cfg.SessionTTL),
		CredentialVersion: u.CredentialVersion,
	}
	if err := s.sessions.CreateSession(r.Context(), se); err != nil {
		return nil, err
	}
	http.SetCookie(w, s.cookies.cookie(s.cookies.session, value, se.ExpiresAt))
	return &se, nil
}

// csrfCookie returns the browser's CSRF cookie value, setting a new one if
// it has none (or a malformed one).
func (s *server) csrfCookie(w http.ResponseWriter, r *http.Request) string {
	v := cookieValue(r, s.cookies.csrf)
	if _, ok := secretHash(v); ok {
		return v
	}
	v, _ = newSecret()
	http.SetCookie(w, s.cookies.cookie(s.cookies.csrf, v, time.Time{}))
	return v
}
