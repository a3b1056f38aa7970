package keys

import (
	"fmt"
	"time"
)

// OpKind is what a Plan call is asked to do.
type OpKind int

// The operations on a lane.
const (
	// Maintain bootstraps an empty lane, keeps a next key, rotates on
	// schedule and deletes expired keys. Every replica runs it; the lane
	// lock makes it idempotent.
	Maintain OpKind = iota
	// Rotate promotes next to current now (admin).
	Rotate
	// Revoke unpublishes Op.KID at once (admin, compromise).
	Revoke
)

func (k OpKind) String() string {
	switch k {
	case Maintain:
		return "maintain"
	case Rotate:
		return "rotate"
	case Revoke:
		return "revoke"
	}
	return fmt.Sprintf("OpKind(%d)", int(k))
}

// Op is one operation for Plan.
type Op struct {
	Kind OpKind
	// Force lets Rotate promote a next key whose SignableAt has not passed.
	Force bool
	// ExpectCurrent, if set, is the kid the caller saw as current before it
	// took the lane lock. Rotate fails with ErrConcurrentRotation when the
	// lane's current key is another one: someone else rotated meanwhile, and
	// rotating again would retire a key that has barely started signing.
	ExpectCurrent string
	// KID is the key to revoke.
	KID string
}

// Outcome is what a plan did to its lane: the Change for the store to
// apply, and the transitions in the terms callers report and log. The kids
// are "" when nothing of the kind happened.
type Outcome struct {
	Change Change
	// At is the plan's time: every transition in it happened then.
	At time.Time
	// Published is the fresh key this plan published as next.
	Published string
	// Activated is the key that started signing: the promoted next key, or
	// a fresh key made current because the lane had nothing to promote.
	Activated string
	// Retired is the key that stopped signing and stays published until
	// its tokens expire. (Surplus keys that repairing a corrupt lane
	// retires are only in Change.)
	Retired string
	// Revoked is the key this plan revoked; "" for a key revoked before.
	Revoked string
	// Previous is, for Revoke, the key as the plan found it under the lane
	// lock, before the revocation.
	Previous Record
}
