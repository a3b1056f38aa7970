package keys

import (
	"context"
	"errors"
	"time"
)

// State is where a key is in its lifecycle (see DESIGN.md, "Keys: lifecycle").
type State string

// Key states. A key moves next → current → retired, or to revoked from any of
// them; retired keys are deleted once every token they signed has expired.
const (
	StateNext    State = "next"    // published in the JWKS, not yet signing
	StateCurrent State = "current" // signing; exactly one per lane
	StateRetired State = "retired" // published until its tokens have expired
	StateRevoked State = "revoked" // unpublished at once
)

// Record is a key as it is stored: the public JWK in clear and the private key
// sealed under a key-encryption key. Zero times mean "not yet".
type Record struct {
	KID       string // RFC 7638 thumbprint (SHA-256, base64url) of the public key
	Alg       Alg
	State     State
	PublicJWK []byte // JSON object of the public JWK
	Sealed    []byte // AES-256-GCM nonce||ciphertext of the PKCS #8 private key, AAD bound to KID
	KEKID     string // which key-encryption key sealed it

	CreatedAt   time.Time // published (as next, or as current on first start)
	ActivatedAt time.Time // became current
	RetiredAt   time.Time // stopped signing
	RevokedAt   time.Time // unpublished

	// SignableAt is the earliest time the key may sign, stamped when it is
	// published: CreatedAt plus the propagation delay of whoever published
	// it (see Plan). Every replica and admin command obeys the stamp rather
	// than its own configuration, so a command run without the servers'
	// timing flags can neither promote a key too early nor be held back
	// longer than the servers would be. A stamp never moves: raising the
	// delay applies to keys published afterwards (revoke the next key to
	// republish it under the new delay at once).
	//
	// Zero means a key published before stamps existed. Until a server's
	// Maintain stamps it (a next key, with the server's delay), readers
	// judge it by their own Policy.PropagationDelay, as they did then.
	SignableAt time.Time
}

// signableAt is when r may sign: its stamp, or for a key without one,
// CreatedAt plus the propagation delay p.
func (r Record) signableAt(p Policy) time.Time {
	if !r.SignableAt.IsZero() {
		return r.SignableAt
	}
	return r.CreatedAt.Add(p.PropagationDelay)
}

// Change is what one UpdateLane call applies atomically.
type Change struct {
	Insert []Record // new keys
	Update []Record // existing keys, matched by KID: State and the five times are replaced; key material never changes
	Delete []string // KIDs to delete
}

// Empty reports whether the change does nothing.
func (c Change) Empty() bool { return len(c.Insert) == 0 && len(c.Update) == 0 && len(c.Delete) == 0 }

// ErrLaneBusy may be returned by UpdateLane when the lane lock could not be
// taken before ctx expired.
var ErrLaneBusy = errors.New("keys: lane is locked by another process")

// Store persists the key ring. Implementations are safe for concurrent use by
// many goroutines and many processes sharing the same database.
//
// Times are kept to the microsecond: a store truncates the times it is given
// (towards the past, as time.Time.Truncate(time.Microsecond) does, whatever
// its driver or protocol would do) and returns them in UTC, so callers need
// not round their clocks. A zero time stays zero.
type Store interface {
	// Keys returns every stored key of every lane and state, in no particular
	// order. It never returns an error for an empty ring.
	Keys(ctx context.Context) ([]Record, error)

	// UpdateLane runs fn while holding an exclusive lock on the lane alg. The
	// lock serialises UpdateLane calls for that lane across goroutines and
	// processes, so fn sees the lane as the previous caller left it. fn gets
	// the lane's records (any state) and returns the change to make; the change
	// is applied in the same transaction, before the lock is released, and
	// either all of it is applied or none. If fn returns an error nothing is
	// applied and UpdateLane returns that error unchanged. fn may be called
	// more than once if the store retries a serialisation failure, so it must
	// have no side effects beyond its return value. After a non-empty change
	// commits, processes watching the store (see Watcher) are told.
	UpdateLane(ctx context.Context, alg Alg, fn func(lane []Record) (Change, error)) error

	// RewrapKeys replaces the sealed private key and KEK id of the given keys
	// (matched by KID) in one transaction. Keys that no longer exist are
	// skipped. It is used to move keys to a new key-encryption key.
	RewrapKeys(ctx context.Context, rewrapped []Record) error
}

// Watcher is implemented by stores that several processes share. WatchKeys
// blocks until ctx is done or the subscription fails, calling changed soon
// after any process commits a key change (calls may be coalesced, and a call
// may come without a change). It returns ctx.Err() on cancellation and another
// error when the subscription broke; the caller resubscribes after a pause and
// keeps polling meanwhile, so a missed notification only delays convergence.
type Watcher interface {
	WatchKeys(ctx context.Context, changed func()) error
}
