package keys

import (
	"errors"
	"time"
)

// Policy is the timing of a lane's lifecycle (DESIGN.md, "Keys: lifecycle").
type Policy struct {
	// RotationPeriod is how long a key signs before Maintain rotates it; 0
	// disables automatic rotation (an admin can still rotate).
	RotationPeriod time.Duration
	// PropagationDelay (P) is how long a key must have been published as
	// next before it may sign, so that every JWKS cache holds it by then. It
	// must be at least MinPropagationDelay(JWKS max-age, poll interval).
	// Maintain stamps it on the keys it publishes (Record.SignableAt), and
	// from then on the stamp decides; an admin Manager uses it only for
	// keys without a stamp and lanes that have none (see Plan).
	PropagationDelay time.Duration
	// RetireAfter is how long a retired key stays published: long enough for
	// every token it signed to expire and for caches to have seen that, i.e.
	// max access-token TTL + leeway + JWKS max-age + poll interval. Revoked
	// keys are deleted after the same period.
	RetireAfter time.Duration
}

// propagationMargin absorbs clock skew between replicas and the time a JWKS
// response spends in flight.
const propagationMargin = time.Second

// MinPropagationDelay is the smallest safe P: a resource server may hold a
// JWKS for jwksMaxAge, and a replica may serve a JWKS up to pollInterval old
// when it missed a notification. A key published for less could sign tokens
// that some cache cannot verify yet.
func MinPropagationDelay(jwksMaxAge, pollInterval time.Duration) time.Duration {
	return jwksMaxAge + pollInterval + propagationMargin
}

// Validate reports a policy that cannot work: negative durations, or no
// retirement window (which would unpublish a key while its tokens are live).
func (p Policy) Validate() error {
	switch {
	case p.RotationPeriod < 0, p.PropagationDelay < 0, p.RetireAfter < 0:
		return errors.New("keys: policy durations must not be negative")
	case p.RetireAfter == 0:
		return errors.New("keys: policy RetireAfter must be positive (max access-token TTL + leeway + JWKS max-age + poll interval)")
	}
	return nil
}
