package keys

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrNotPropagated is wrapped by the *NotPropagatedError of a Rotate
	// whose next key may not sign yet.
	ErrNotPropagated = errors.New("keys: next key has not been published long enough")
	// ErrConcurrentRotation means another process rotated the lane between
	// the caller's read and its lock.
	ErrConcurrentRotation = errors.New("keys: another process rotated the lane")
	// ErrKeyNotFound means there is no key with that kid.
	ErrKeyNotFound = errors.New("keys: no such key")
	// ErrNeedFresh is wrapped by the *NeedFreshError of a Plan that was given
	// fewer fresh keys than it needs.
	ErrNeedFresh = errors.New("keys: plan needs more fresh keys")
)

// NotPropagatedError is the refusal of a Rotate whose next key may not sign
// yet: its SignableAt stamp has not passed.
type NotPropagatedError struct {
	Alg       Alg
	KID       string        // the next key; "" if the lane has none
	Published time.Duration // how long it has been published
	// Delay is the propagation delay the key was published with
	// (SignableAt − CreatedAt), whatever the caller's own policy says.
	Delay time.Duration
	// SignableAt is when the key may sign; zero if the lane has no next key.
	SignableAt time.Time
}

func (e *NotPropagatedError) Error() string {
	if e.KID == "" {
		return fmt.Sprintf("keys: the %s lane has no next key to promote; start a server (or wait for maintenance) to publish one, or use --force to promote a key no cache has seen", e.Alg)
	}
	return fmt.Sprintf("keys: next %s key %s has been published for %v, less than the propagation delay %v it was published with; wait %v, or use --force (tokens it signs may fail verification at resource servers whose JWKS cache predates it)",
		e.Alg, e.KID, e.Published.Round(time.Second), e.Delay, e.Wait().Round(time.Second))
}

// Wait is how long until the next key may sign.
func (e *NotPropagatedError) Wait() time.Duration { return e.Delay - e.Published }

// Unwrap makes errors.Is(err, ErrNotPropagated) hold.
func (e *NotPropagatedError) Unwrap() error { return ErrNotPropagated }

// NeedFreshError asks the caller of Plan for more fresh keys.
type NeedFreshError struct{ Need, Have int }

func (e *NeedFreshError) Error() string {
	return fmt.Sprintf("keys: plan needs %d fresh keys, was given %d", e.Need, e.Have)
}

// Unwrap makes errors.Is(err, ErrNeedFresh) hold.
func (e *NeedFreshError) Unwrap() error { return ErrNeedFresh }
