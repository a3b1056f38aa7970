package idp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/alexedwards/argon2id"
)

// hasher runs argon2id with a bound on how many hashes run at once: each one
// holds p.Memory KiB, so the bound is also the bound on password memory.
type hasher struct {
	params argon2id.Params
	limits Argon2Limits
	slots  chan struct{}
	wait   time.Duration
	dummy  string // a hash of a random password, verified for unknown users

	verifications atomic.Int64                          // verifications run, for tests and stats
	metrics       *Metrics                              // nil records nothing
	observe       atomic.Pointer[func(argon2id.Params)] // if set (tests), sees every argon2id run
}

func newHasher(p argon2id.Params, l Argon2Limits, concurrency int, wait time.Duration) *hasher {
	h := &hasher{params: p, limits: l, slots: make(chan struct{}, concurrency), wait: wait}
	dummyPW := make([]byte, 32)
	_, _ = rand.Read(dummyPW)
	dummy, err := argon2id.CreateHash(string(dummyPW), &p)
	if err != nil {
		panic("idp: argon2id: " + err.Error()) // only fails if crypto/rand fails
	}
	h.dummy = dummy
	return h
}

// errSaturated is why acquire gave up: every hashing slot stayed busy.
var errSaturated = errors.New("password hashing saturated")

// acquire takes a hashing slot, waiting at most h.wait; the caller answers 503
// with Retry-After when it cannot have one.
func (h *hasher) acquire(ctx context.Context) (release func(), err error) {
	start := time.Now()
	select {
	case h.slots <- struct{}{}:
		return h.granted(start), nil
	default:
	}
	t := time.NewTimer(h.wait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return h.granted(start), nil
	case <-t.C:
		h.metrics.hashRefused(start, true)
		return nil, errSaturated
	case <-ctx.Done():
		h.metrics.hashRefused(start, false)
		return nil, ctx.Err()
	}
}

// granted records a slot taken after waiting since start and returns its
// release.
func (h *hasher) granted(start time.Time) func() {
	h.metrics.hashGranted(start)
	return func() {
		<-h.slots
		h.metrics.hashReleased()
	}
}

// storedHashError is a stored hash Rotor will not run: unreadable, or with
// parameters outside Argon2Limits. The login fails like a wrong password;
// the error, which names the parameters and never the hash, is logged.
type storedHashError struct{ reason error }

func (e storedHashError) Error() string { return "stored password hash refused: " + e.reason.Error() }

// verify checks pw against a stored hash ("" for an unknown user) so that the
// argon2id work is one hash with the current parameters whatever the hash
// is: an unknown or unreadable one runs the dummy, and a cheaper one (older
// settings, or a CLI run with other flags) is topped up with a hash of the
// missing work. The stored parameters are checked before anything is
// allocated. stale reports that a matching hash should be replaced.
func (h *hasher) verify(pw, hash string) (ok, stale bool, err error) {
	h.verifications.Add(1)
	if hash == "" {
		h.run(pw, h.dummy)
		return false, false, nil
	}
	p, _, _, derr := argon2id.DecodeHash(hash)
	if derr == nil {
		derr = CheckArgon2(*p, h.limits)
	}
	if derr != nil {
		h.run(pw, h.dummy)
		return false, false, storedHashError{derr}
	}
	ok = h.run(pw, hash)
	h.topUp(pw, *p)
	return ok, ok && *p != h.params, nil
}

// run verifies pw against a hash whose parameters are known to be in bounds.
func (h *hasher) run(pw, hash string) bool {
	match, p, err := argon2id.CheckHash(pw, hash)
	if err != nil {
		return false
	}
	h.observed(*p)
	return match
}

// topUp runs the argon2id work a verification with p fell short of the
// current parameters, so that a user with a cheap stored hash takes as long
// as an unknown one (issue 11, finding 4). It keeps the current parallelism
// and iterations and shrinks the memory, so it never holds more memory than
// a normal hash. A costlier stored hash is not topped up: it is rehashed at
// the next successful login.
func (h *hasher) topUp(pw string, p argon2id.Params) {
	have, want := work(p), work(h.params)
	if have >= want {
		return
	}
	pad := h.params
	pad.Memory = uint32((want - have) / uint64(pad.Iterations))
	if pad.Memory < 8*uint32(pad.Parallelism) {
		return // less than argon2's smallest run: microseconds
	}
	if _, err := argon2id.CreateHash(pw, &pad); err != nil {
		panic(fmt.Sprintf("idp: argon2id: %v", err)) // only fails if crypto/rand fails
	}
	h.observed(pad)
}

func (h *hasher) hash(pw string) (string, error) {
	h.observed(h.params)
	return argon2id.CreateHash(pw, &h.params)
}

func (h *hasher) observed(p argon2id.Params) {
	if f := h.observe.Load(); f != nil {
		(*f)(p)
	}
}
