package idp

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by stores when the named record does not exist.
var ErrNotFound = errors.New("not found")

// ErrUnavailable wraps store errors that mean the database cannot be reached
// right now (connection refused or lost, timeouts). The token endpoint answers
// them with 503 and Retry-After instead of 500.
var ErrUnavailable = errors.New("store unavailable")

// ErrConflict is returned by stores when a record with the same name or id
// already exists.
var ErrConflict = errors.New("already exists")

// User is a resource owner who signs in with a password.
type User struct {
	ID           string // stable, random; the access token's sub
	Name         string // unique login name; OIDC preferred_username
	PasswordHash string // argon2id PHC string
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// CredentialVersion goes up with every password change and every
	// SetUserDisabled. A session or refresh-token family is created only
	// for the version its password check read (Session, Family), so a
	// change that commits during a sign-in still ends what the sign-in
	// creates.
	CredentialVersion int64

	// Optional profile, served as OIDC standard claims (OIDC Core §5.1).
	Email         string // email; "" if none
	EmailVerified bool   // email_verified
	DisplayName   string // name; "" if none
}

// Client is an OAuth client (RFC 6749 §2).
type Client struct {
	ID         string
	SecretHash []byte // SHA-256 of the secret Rotor generated; nil for public clients
	Public     bool   // public clients (RFC 6749 §2.1) have no secret
	GrantTypes []string
	Scopes     []string // scopes the client may ask for
	Audiences  []string // aud of the access tokens it gets
	TokenAlg   string   // signing algorithm of its access tokens; "" means the server default
	CreatedAt  time.Time

	// Browser sign-in (authorization_code). See redirect.go for the rules
	// redirect URIs follow.
	Name                   string   // shown on the login and consent pages; "" shows the ID (see DisplayName)
	RedirectURIs           []string // exact-match redirect URIs (RFC 9700 §4.1.3)
	PostLogoutRedirectURIs []string // where RP-initiated logout may return to, matched the same way
	FirstParty             bool     // the user is not asked for consent

	// Introspect: the client may introspect access tokens issued to other
	// clients (RFC 7662 §2.2); without it, only its own.
	Introspect bool
	// No shared secrets (client_keys.go, dpop.go).
	AuthMethod  string // "" (secret, or none when Public) or AuthPrivateKeyJWT
	JWKS        string // the client's public keys (a JWKS, JSON) for AuthPrivateKeyJWT
	JWKSURI     string // or the https URL they are fetched from (client_jwks_uri.go); never both
	RequireDPoP bool   // every token request must carry a DPoP proof (RFC 9449 §5)
}

// DisplayName is the name the login and consent pages show for the client.
func (c Client) DisplayName() string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

// Family is one chain of refresh tokens, from one grant: every rotation adds a
// token to it, reuse of a spent one revokes all of it (RFC 9700 §4.14.2).
type Family struct {
	ID       string
	ClientID string
	Subject  string // the user's ID
	Scope    string // space-delimited scope as granted; a refresh never widens it (RFC 6749 §6)
	AuthTime time.Time
	// Where the family came from, so that ending the browser session or a
	// replay of the code revokes it (RFC 6749 §4.1.2). Both are empty for
	// grants without a browser (password).
	SessionID string // ID of the browser session the user signed in with
	CodeHash  []byte // hash of the authorization code it was issued for
	// CredentialVersion is the User.CredentialVersion the grant's password
	// check read. It is checked when the family is created, not stored:
	// a family not from a code is refused while its Subject names a user
	// who is disabled or whose version differs.
	CredentialVersion int64
	// JKT is the RFC 7638 thumbprint of the DPoP key a public client's
	// family is bound to (RFC 9449 §5): a refresh must prove possession of
	// it. "" for an unbound family.
	JKT          string
	CreatedAt    time.Time
	ExpiresAt    time.Time // absolute; rotation never extends it
	RevokedAt    time.Time // zero while live
	RevokeReason string
}

// RefreshToken is one token of a family, as the store keeps it: Hash is its
// store key (RefreshTokenKey), never the token.
type RefreshToken struct {
	Hash     []byte
	FamilyID string
	// Parent is the key of the token this one replaced; nil for the first
	// of a family. A store keeps it only while this token is unspent, to
	// find the parent's successor (RefreshState.Successor), and reports it
	// only there: a spent token keeps its key, family and times alone.
	Parent   []byte
	IssuedAt time.Time
	SpentAt  time.Time // zero while unspent
}

// RefreshState is what UseRefresh shows the refresh rules: the presented token,
// its family, and the token that replaced it, if any.
type RefreshState struct {
	Family Family
	Token  RefreshToken
	// Successor is the latest token issued to replace Token that is still
	// unspent (its Parent is Token.Hash); nil if none. Once spent, a
	// successor changes no decision: a retry of Token is then reuse.
	Successor *RefreshToken
	// UserDisabled is true if the family's Subject names a user who is
	// disabled now, read in the same transaction.
	UserDisabled bool
}

// RefreshUpdate is what the refresh rules decide; UseRefresh applies it in the
// same transaction that read the state. Zero fields change nothing.
type RefreshUpdate struct {
	SpendToken     time.Time     // mark the presented token spent at this time
	SpendSuccessor time.Time     // mark the successor spent at this time
	Issue          *RefreshToken // insert this new token into the family
	RevokeAt       time.Time     // revoke the family at this time...
	RevokeReason   string        // ...for this reason
}

// UserStore keeps users. Implementations are safe for concurrent use.
type UserStore interface {
	// CreateUser stores u; ErrConflict if its Name or ID is taken.
	CreateUser(ctx context.Context, u User) error
	// UserByName returns the user named name; ErrNotFound if none.
	UserByName(ctx context.Context, name string) (User, error)
	// UserByID returns the user whose ID is id; ErrNotFound if none.
	UserByID(ctx context.Context, id string) (User, error)
	// Users returns every user, ordered by name.
	Users(ctx context.Context) ([]User, error)
	// UpdateProfile applies p to the user named name (p.Apply, in one
	// transaction: read, apply, write, so concurrent updates of different
	// fields both land) and returns the user as stored. It revokes nothing.
	// ErrNotFound if no user is named name.
	UpdateProfile(ctx context.Context, name string, p ProfileUpdate, at time.Time) (User, error)
	// SetUserDisabled sets the user's Disabled flag and increments its
	// CredentialVersion. Disabling also, in the
	// same transaction, revokes every refresh-token family of the user, ends
	// every browser session of the user and revokes the user's authorization
	// codes (see SessionStore.EndUserSessions). ErrNotFound if no user is
	// named name.
	SetUserDisabled(ctx context.Context, name string, disabled bool, at time.Time) error
	// SetPassword replaces the user's password hash, increments its
	// CredentialVersion and, in one transaction,
	// revokes every refresh-token family of the user, ends every browser
	// session of the user and revokes the user's authorization codes.
	// ErrNotFound if no user is named name.
	SetPassword(ctx context.Context, name, hash string, at time.Time) error
	// RehashPassword replaces the password hash of user id with newHash only
	// if it still equals oldHash, so an upgrade at login never undoes a
	// concurrent password change. It revokes nothing and reports whether it
	// replaced the hash.
	RehashPassword(ctx context.Context, id, oldHash, newHash string, at time.Time) (bool, error)
}

// ClientStore keeps OAuth clients. Implementations are safe for concurrent use.
type ClientStore interface {
	// CreateClient stores c; ErrConflict if its ID is taken.
	CreateClient(ctx context.Context, c Client) error
	// ClientByID returns the client; ErrNotFound if none.
	ClientByID(ctx context.Context, id string) (Client, error)
	// Clients returns every client, ordered by ID.
	Clients(ctx context.Context) ([]Client, error)
	// SetClientKeys replaces the JWKS of a private_key_jwt client, dropping
	// any jwks_uri (a key rotation); ErrNotFound if no such client uses
	// private_key_jwt.
	SetClientKeys(ctx context.Context, id, jwks string) error
	// SetClientKeysURI points a private_key_jwt client at the URL of its
	// JWKS, dropping any JWKS held; ErrNotFound as for SetClientKeys.
	SetClientKeysURI(ctx context.Context, id, uri string) error
	// DeleteClient deletes the client and, in one transaction, every
	// refresh-token family issued to it, its authorization codes and the
	// consents given to it; ErrNotFound if none.
	DeleteClient(ctx context.Context, id string) error
}

// PurgeRest is how many times as long as a purge batch took a store waits
// before the next batch: a purge, however large its backlog, takes at most
// a fiftieth of one database connection's time, in short batches, and
// leaves the rest to the requests. On a machine the requests keep busy, a
// batch still slows the requests that overlap it; at this rest, few enough
// do that the 99th percentile does not move (BENCHMARKS.md, "Purge"). A
// backlog of millions of expired families takes hours (some 200 families a
// second under load); later purges delete one hour's expiries in seconds.
const PurgeRest = 50

// RefreshStore keeps refresh-token families. Implementations are safe for
// concurrent use by many goroutines and processes.
type RefreshStore interface {
	// CreateFamily stores a new family and its first token in one transaction.
	// ErrConflict if the family ID or the token hash exists; ErrNotFound if
	// the client does not exist.
	//
	// A family not from a code is refused with ErrRevoked if f.Subject
	// names a user who is disabled or whose CredentialVersion is not
	// f.CredentialVersion (the password changed since the grant checked
	// it). The check holds a lock that SetUserDisabled and SetPassword
	// also take, so a change racing the grant either refuses the family
	// or revokes it. A subject that names no user is not checked.
	//
	// A family from an authorization code (f.CodeHash set) is created only
	// if that code was redeemed by f.ClientID and has not been revoked since.
	// The check runs in the same transaction as the insert, under a lock that
	// every revocation of the code also takes (a replay, the end of its
	// session, the revocation of its consent, the user being disabled), so a
	// family is either refused or revoked together with its code; never left
	// live after the code's revocation. It is refused with ErrNotFound if no
	// such code was redeemed by that client, ErrCodeReused if the code was
	// replayed, and ErrRevoked if it was revoked for another reason.
	// f.SessionID is recorded, not checked: the code's revocation covers it.
	CreateFamily(ctx context.Context, f Family, first RefreshToken) error

	// UseRefresh finds the token whose hash is hash and locks its family
	// exclusively: concurrent UseRefresh and RevokeFamily calls on the same
	// family, from any process, wait for the lock. It calls fn with the state
	// read under the lock and applies the update fn returns in the same
	// transaction, so single use is enforced without check-then-act. If fn
	// returns an error nothing is applied and that error is returned
	// unchanged. fn may run more than once if the store retries, so it must
	// have no side effects beyond its return value. ErrNotFound (and no call
	// to fn) if no token has that hash.
	UseRefresh(ctx context.Context, hash []byte, fn func(RefreshState) (RefreshUpdate, error)) error

	// LookupRefresh returns the state of the token whose hash is hash, without
	// locking or changing anything; ErrNotFound if none.
	LookupRefresh(ctx context.Context, hash []byte) (RefreshState, error)

	// RevokeFamily revokes the family with this ID, keeping the first
	// revocation's time and reason if it is already revoked. ErrNotFound if
	// none.
	RevokeFamily(ctx context.Context, id, reason string, at time.Time) error

	// LimitFamilies revokes, for reason ReasonFamilyLimit at time at, every
	// live family (not revoked, not expired at at) of subject and clientID
	// but the newest keep (by CreatedAt), and returns how many it revoked.
	// Concurrent calls never revoke more than that: whatever their order,
	// once all have returned the newest keep live families are still live.
	LimitFamilies(ctx context.Context, subject, clientID string, keep int, at time.Time) (int, error)

	// PurgeRefresh deletes every family (with its tokens) that expired before
	// cutoff and returns how many it deleted. It deletes in short
	// transactions, so that a large backlog never holds locks for long; if
	// it fails part way, what it deleted stays deleted and the count says
	// how much. A store shared by several processes lets one purge at a
	// time: the others return 0 at once.
	PurgeRefresh(ctx context.Context, cutoff time.Time) (int, error)
}

// Pinger reports whether the store can be reached; readiness uses it.
type Pinger interface {
	Ping(ctx context.Context) error
}
