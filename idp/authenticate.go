package idp

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"time"
)

// Why authenticate refused a sign-in. Callers map them to their own answer
// (JSON for the token endpoint, a page for the login form); none of them
// tells a wrong password, an unknown user and a disabled user apart.
var errBadCredentials = errors.New("invalid username or password")

// throttledError: too many failed attempts; come back after retryAfter (429).
type throttledError struct {
	retryAfter time.Duration
	reason     string // the empty bucket: "account" or "address" (metrics)
}

func (e *throttledError) Error() string { return "too many failed attempts" }

// busyError: no hashing slot came free in time, or the request ended while
// waiting (503). The attempt still counts against the throttle.
type busyError struct{ cause error }

func (e *busyError) Error() string { return "password check unavailable: " + e.cause.Error() }
func (e *busyError) Unwrap() error { return e.cause }

// authenticate is every password sign-in: the password grant, and the login
// page. In this order, it
//
//  1. takes the attempt from every throttle bucket at once, or answers
//     throttledError without hashing anything, so N parallel guesses can
//     never hash more than the buckets hold;
//  2. looks the user up, then queues for a hashing slot (busyError when none
//     comes free; the attempt stays counted);
//  3. verifies the password with the same argon2id work whether or not the
//     user exists, and refuses disabled users after the same work;
//  4. on success gives the attempt back and upgrades a stale hash.
//
// Any other error is the store's; the caller maps it (503 when the database
// is down).
func (s *server) authenticate(ctx context.Context, name, password string, from netip.Addr) (User, error) {
	if name == "" || password == "" || len(name) > maxUsernameLen || len(password) > MaxPasswordLen {
		return User{}, errBadCredentials
	}
	att, wait := s.throttle.take(name, from, s.now())
	if wait > 0 {
		return User{}, &throttledError{wait, att.refused}
	}
	u, err := s.users.UserByName(ctx, name)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return User{}, err
	}
	release, err := s.hasher.acquire(ctx)
	if err != nil {
		return User{}, &busyError{err}
	}
	defer release()
	ok, stale, err := s.hasher.verify(password, u.PasswordHash) // u is zero when not found
	if err != nil {
		// An operator problem (a hash imported from elsewhere, or a
		// tampered row): say so, without the hash.
		s.log.LogAttrs(ctx, slog.LevelError, "password login refused",
			slog.String("user_id", u.ID), slog.String("error", err.Error()))
	}
	if !ok || u.Disabled {
		return User{}, errBadCredentials
	}
	s.throttle.giveBack(att, s.now())
	if stale {
		s.rehash(ctx, u, password)
	}
	return u, nil
}

// rehash upgrades a hash made with other argon2id parameters. Failure only
// means it is tried again at the next login.
func (s *server) rehash(ctx context.Context, u User, pw string) {
	h, err := s.hasher.hash(pw)
	if err == nil {
		_, err = s.users.RehashPassword(ctx, u.ID, u.PasswordHash, h, s.now())
	}
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "password rehash failed", slog.String("user_id", u.ID), slog.String("error", err.Error()))
	}
}
