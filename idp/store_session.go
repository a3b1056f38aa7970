package idp

import (
	"context"
	"time"
)

// Session is a browser session: a user who signed in on Rotor's login page,
// so that the next authorization request from the same browser needs no
// password (single sign-on).
//
// The cookie carries a 256-bit random value; the store keeps only its
// SHA-256 (Hash), so a copy of the database signs nobody in. ID is a second,
// unrelated random value that is not secret: it names the session in
// refresh-token families, authorization codes, logs and an ID token's sid.
type Session struct {
	ID            string
	Hash          []byte    // SHA-256 of the cookie value
	UserID        string    // User.ID
	AuthTime      time.Time // when the user last authenticated (OIDC auth_time)
	AMR           []string  // how (RFC 8176 values, e.g. "pwd"); OIDC amr
	CreatedAt     time.Time
	LastSeenAt    time.Time // last TouchSession
	IdleExpiresAt time.Time // moved on by TouchSession, never past ExpiresAt
	ExpiresAt     time.Time // absolute: nothing extends it
	// CredentialVersion is the User.CredentialVersion the password check
	// read; checked by CreateSession, not stored.
	CredentialVersion int64
}

// Live reports whether the session may be used at now: both of its expiry
// times are still ahead.
func (s Session) Live(now time.Time) bool {
	return now.Before(s.IdleExpiresAt) && now.Before(s.ExpiresAt)
}

// SessionStore keeps browser sessions. Implementations are safe for
// concurrent use by many goroutines and processes.
//
// Ending a session deletes it: a session is either live, expired (and
// waiting for PurgeSessions), or gone.
type SessionStore interface {
	// CreateSession stores s. IdleExpiresAt must not be after ExpiresAt.
	// ErrConflict if its ID or Hash is taken; ErrNotFound if s.UserID names
	// no user, a disabled one, or one whose CredentialVersion is not
	// s.CredentialVersion (the password changed during the sign-in). It is serialised with disabling the user
	// and changing the password, so their cleanup never misses a session
	// created at the same moment.
	CreateSession(ctx context.Context, s Session) error

	// SessionByHash returns the session whose Hash is hash if it is live at
	// now (Session.Live). ErrNotFound if there is none, or it expired, or it
	// ended: the caller never sees a session it must not use. It reads
	// without locking and changes nothing.
	SessionByHash(ctx context.Context, hash []byte, now time.Time) (Session, error)

	// TouchSession records activity on a live session: LastSeenAt moves to
	// now, and IdleExpiresAt to idleExpiresAt capped at the session's
	// ExpiresAt; neither ever moves back. One statement, cheap; callers touch
	// only when LastSeenAt is older than a minute or so. ErrNotFound if no
	// session with this ID is live at now (an expired session is not
	// revived).
	TouchSession(ctx context.Context, id string, now, idleExpiresAt time.Time) error

	// EndSession ends the session with this ID (logout) and, in the same
	// transaction, revokes every authorization code issued in it and every
	// refresh-token family created in it (Family.SessionID), with reason.
	// Codes and families revoked earlier keep their first time and reason.
	// Ending a session that does not exist (ended before, purged, never
	// created) is not an error, and its codes and families are revoked all
	// the same.
	EndSession(ctx context.Context, id, reason string, at time.Time) error

	// EndUserSessions ends every session of the user with ID userID, and
	// revokes the codes and families created in them, as EndSession does,
	// in one transaction; it returns how many sessions it ended. Disabling a
	// user and changing a password do this too (UserStore).
	EndUserSessions(ctx context.Context, userID, reason string, at time.Time) (int, error)

	// PurgeSessions deletes every session that expired before cutoff (its
	// IdleExpiresAt, which is never after ExpiresAt, is before cutoff) and
	// returns how many. It revokes nothing: a session that expired on its own
	// leaves its refresh-token families alone. It deletes in short
	// transactions, one process at a time, as PurgeRefresh does.
	PurgeSessions(ctx context.Context, cutoff time.Time) (int, error)
}
