package idp

import (
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// errBadLogin is the one answer to a wrong password, an unknown user and a
// disabled user, so none of them can be told apart.
var errBadLogin = errInvalidGrant("invalid username or password")

// grantPassword is RFC 6749 §4.3, for first-party clients that opted in.
// Unknown users cost one argon2id verification like everyone else, and failed
// attempts are throttled per account and per address before any hash runs.
func (s *server) grantPassword(r *http.Request, f form, c Client) (*tokenResponse, error) {
	name, pw := f.get("username"), f.get("password")
	if name == "" || pw == "" {
		return nil, errInvalidRequest("username and password are required")
	}
	if len(name) > maxUsernameLen || len(pw) > MaxPasswordLen {
		return nil, errInvalidRequest("username or password is too long")
	}
	scope, err := grantScope(f.get("scope"), c.Scopes)
	if err != nil {
		return nil, err
	}
	k, err := s.signer(c)
	if err != nil {
		return nil, err
	}

	now := s.now()
	accountKey := "u:" + strings.ToLower(name)
	addressKey := "a:" + clientAddress(r)
	if wait := max(s.accounts.wait(accountKey, now), s.address.wait(addressKey, now)); wait > 0 {
		return nil, errThrottled(wait)
	}

	release, err := s.hasher.acquire(r.Context())
	if err != nil {
		return nil, errUnavailable(err)
	}
	defer release()

	u, err := s.users.UserByName(r.Context(), name)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, storeError(err)
	}
	ok, stale := s.hasher.verify(pw, u.PasswordHash) // u is zero when not found
	if !ok || u.Disabled {
		s.accounts.fail(accountKey, now)
		s.address.fail(addressKey, now)
		return nil, errBadLogin
	}
	s.accounts.reset(accountKey)
	if stale {
		s.rehash(r, u, pw)
	}

	resp, err := s.mint(k, c, u.ID, scope, now, now)
	if err != nil {
		return nil, err
	}
	if slices.Contains(c.GrantTypes, GrantRefreshToken) {
		if resp.RefreshToken, err = s.newFamily(r, c, u.ID, resp.Scope, now); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// rehash upgrades a hash made with older argon2id parameters. Failure only
// means it is tried again at the next login.
func (s *server) rehash(r *http.Request, u User, pw string) {
	h, err := s.hasher.hash(pw)
	if err == nil {
		_, err = s.users.RehashPassword(r.Context(), u.ID, u.PasswordHash, h, s.now())
	}
	if err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "password rehash failed", slog.String("user_id", u.ID), slog.String("error", err.Error()))
	}
}

// clientAddress is the throttling key of the peer: its IPv4 address, or the
// /64 of an IPv6 one, since a single host usually owns a whole /64. Rotor does
// not trust X-Forwarded-For: behind a proxy every login shares one bucket.
func clientAddress(r *http.Request) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
