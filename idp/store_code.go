package idp

import (
	"context"
	"errors"
	"time"
)

// GrantAuthorizationCode is the authorization code grant (RFC 6749 §4.1),
// with PKCE S256 for every client (RFC 7636, RFC 9700 §2.1.1).
const GrantAuthorizationCode = "authorization_code"

// Errors of CodeStore.RedeemCode and RefreshStore.CreateFamily.
var (
	// ErrCodeReused means the code had been redeemed before. The store has
	// revoked the code and every refresh-token family issued from it, in the
	// same transaction (RFC 6749 §4.1.2).
	ErrCodeReused = errors.New("authorization code reused")
	// ErrCodeExpired means the code was never redeemed and has expired.
	ErrCodeExpired = errors.New("authorization code expired")
	// ErrRevoked means the code was revoked before it was redeemed, or
	// before a family could be created from it: its session ended, its
	// consent was revoked or its user was disabled.
	ErrRevoked = errors.New("revoked")
)

// Revocation reasons the stores record on the codes and families they revoke
// themselves. EndSession and EndUserSessions take the caller's reason.
const (
	ReasonCodeReuse      = "code_reuse"
	ReasonConsentRevoked = "consent_revoked"
	ReasonLogout         = "logout" // for EndSession
	// ReasonFamilyLimit: the user and client had more live refresh-token
	// families than Config.MaxFamiliesPerUserClient; the oldest went.
	ReasonFamilyLimit = "family_limit"
)

// AuthCode is an authorization code (RFC 6749 §4.1.2): 256 random bits sent
// once to the client's redirect URI and exchanged, once, at the token
// endpoint. The store keeps only its SHA-256 (Hash).
type AuthCode struct {
	Hash          []byte // SHA-256 of the code
	ClientID      string
	UserID        string
	SessionID     string    // the browser session the user signed in with
	RedirectURI   string    // the request's redirect_uri; the token request must repeat it (RFC 6749 §4.1.3)
	CodeChallenge string    // PKCE code_challenge, method S256 (RFC 7636 §4.2): 43 base64url characters
	Scope         string    // space-delimited scope granted
	Nonce         string    // OIDC nonce, for the ID token; "" if none
	AuthTime      time.Time // the session's auth_time
	AMR           []string  // the session's amr
	CreatedAt     time.Time
	ExpiresAt     time.Time // CreatedAt + 60 s
	RedeemedAt    time.Time // zero until redeemed
	RevokedAt     time.Time // zero while valid
	RevokeReason  string    // why it was revoked
}

// CodeStore keeps authorization codes. Implementations are safe for
// concurrent use by many goroutines and processes.
type CodeStore interface {
	// CreateCode stores c; its RedeemedAt and RevokedAt are ignored (a new
	// code is neither). ErrConflict if the hash exists; ErrNotFound if the
	// client does not exist, or the user does not or is disabled (serialised
	// with disabling, as CreateSession is).
	CreateCode(ctx context.Context, c AuthCode) error

	// CreateSessionCode stores c as a code of the browser session whose Hash
	// is sessionHash, if that session is live at now and its user enabled,
	// and returns the session; c's SessionID, UserID, AuthTime and AMR are
	// taken from the session, whatever c says. It is serialised with ending
	// the session (and with disabling the user and changing the password):
	// either the code is stored while the session exists, and the session's
	// end revokes it, or the session has ended and nothing is stored. A code
	// is never created for a session that has ended. ErrNotFound, and
	// nothing stored, if there is no such live session of an enabled user,
	// or the client does not exist. One statement or transaction: the
	// authorization endpoint's store work for a browser with a session.
	CreateSessionCode(ctx context.Context, sessionHash []byte, now time.Time, c AuthCode) (Session, error)

	// RedeemCode marks the code with this hash redeemed at now and returns
	// it, if it belongs to clientID and is unredeemed, unrevoked and not
	// expired at now (now before ExpiresAt). Single use is enforced in one
	// transaction (never check-then-act): of any number of concurrent calls,
	// from any process, at most one succeeds. Otherwise:
	//   - ErrNotFound: no such code, or it belongs to another client; nothing
	//     changes, so a code presented by the wrong client is not burned.
	//   - ErrCodeReused: it was redeemed before. In the same transaction the
	//     code is revoked (ReasonCodeReuse) and so is every refresh-token
	//     family created from it (Family.CodeHash); this holds for a replay
	//     after expiry too. The stored code is returned with the error, for
	//     the audit log.
	//   - ErrRevoked: it was revoked before it was redeemed.
	//   - ErrCodeExpired: it was never redeemed and has expired.
	RedeemCode(ctx context.Context, hash []byte, clientID string, now time.Time) (AuthCode, error)

	// ExchangeCode is RedeemCode and the start of the refresh-token family
	// issued for the code, in one transaction: the token endpoint's whole
	// store work for a code.
	//
	// It redeems the code as RedeemCode does, with the same errors and the
	// same revocations on a replay; decide is not called then. After a
	// redemption it calls decide with the code (RedeemedAt set), which checks
	// what the store cannot (PKCE, redirect_uri) and says which family to
	// create, if any:
	//   - decide returns an error: the redemption commits (a failed check
	//     uses the code up) and nothing else; ExchangeCode returns the code
	//     and that error unchanged.
	//   - ex.Family is nil: the redemption commits, no family is created.
	//   - otherwise ex.Family is created with its first token ex.First in the
	//     same transaction, with ClientID, Subject, SessionID and CodeHash
	//     taken from the code (whatever ex says). Since the code is redeemed
	//     in the same transaction, a replay, the end of the session or any
	//     other revocation of the code either comes after the family exists
	//     and revokes it, or came first and the exchange fails; a live
	//     family is never left behind by a revoked code.
	// If creating the family fails, nothing commits (the code stays
	// unredeemed) and the error is returned. decide may run more than once
	// if the store retries, so it must have no side effects beyond its
	// return value. A nil decide creates no family: the code is redeemed,
	// and what the store cannot check is the caller's to check afterwards
	// (a failed check has used the code up all the same).
	ExchangeCode(ctx context.Context, hash []byte, clientID string, now time.Time, decide func(AuthCode) (CodeExchange, error)) (AuthCode, error)

	// PurgeCodes deletes every code that expired before cutoff, redeemed or
	// not, and returns how many. A replay of a purged code is ErrNotFound
	// and revokes nothing, so callers keep codes for a while after they
	// expire (see CodeRetention). It deletes in short transactions, one
	// process at a time, as PurgeRefresh does.
	PurgeCodes(ctx context.Context, cutoff time.Time) (int, error)
}

// CodeExchange is what the token endpoint decides, inside
// CodeStore.ExchangeCode, about a code it redeemed.
type CodeExchange struct {
	Family *Family       // the refresh-token family to start; nil for none
	First  *RefreshToken // its first token (FamilyID may be empty)
}

// CodeRetention is how long housekeeping keeps a code after it expired, so
// that a replay within that time still revokes what was issued from it.
const CodeRetention = time.Hour
