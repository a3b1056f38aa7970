package idp

import (
	"context"
	"time"
)

// Consent is a user's remembered decision to let a third-party client have
// some scopes, so the consent page is not shown again for them.
type Consent struct {
	UserID    string
	ClientID  string
	Scopes    []string  // every scope granted so far, sorted byte-wise, no duplicates
	GrantedAt time.Time // the last GrantConsent
}

// ConsentStore keeps consents. Implementations are safe for concurrent use by
// many goroutines and processes.
type ConsentStore interface {
	// GrantConsent records that the user consents to the client having
	// scopes, on top of what it granted before (the union, in one statement
	// or transaction, so concurrent grants lose nothing), sets GrantedAt to
	// at, and returns the consent as stored. ErrNotFound if the user or the
	// client does not exist.
	GrantConsent(ctx context.Context, userID, clientID string, scopes []string, at time.Time) (Consent, error)

	// Consent returns the user's consent for the client; ErrNotFound if
	// none.
	Consent(ctx context.Context, userID, clientID string) (Consent, error)

	// Consents returns every consent of the user, ordered by client ID
	// (byte-wise); none if the user has none or does not exist.
	Consents(ctx context.Context, userID string) ([]Consent, error)

	// RevokeConsent deletes the user's consent for the client and, in the
	// same transaction, revokes (ReasonConsentRevoked) the user's refresh-
	// token families of that client and the user's authorization codes for
	// it, so that nothing issued under the consent outlives it. ErrNotFound,
	// and nothing changes, if there is no such consent.
	RevokeConsent(ctx context.Context, userID, clientID string, at time.Time) error
}
