package idp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
)

// Password length bounds. The upper bound only keeps requests sane: argon2id
// costs the same for any length, so long passphrases (64 characters and more)
// are welcome.
const (
	MinPasswordLen = 8    // characters (NIST SP 800-63B §5.1.1.2)
	MaxPasswordLen = 1024 // bytes; longer is refused with 400
	maxUsernameLen = 256  // bytes
)

// DefaultArgon2 is the OWASP Password Storage Cheat Sheet's argon2id setting:
// 19 MiB of memory, 2 iterations, 1 lane.
var DefaultArgon2 = argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// CheckPassword reports whether a new password is acceptable.
func CheckPassword(pw string) error {
	if len(pw) > MaxPasswordLen {
		return fmt.Errorf("password is longer than %d bytes", MaxPasswordLen)
	}
	if !utf8.ValidString(pw) {
		return errors.New("password is not valid UTF-8")
	}
	if utf8.RuneCountInString(pw) < MinPasswordLen {
		return fmt.Errorf("password is shorter than %d characters", MinPasswordLen)
	}
	return nil
}

// HashPassword returns the argon2id PHC string of pw.
func HashPassword(pw string, p argon2id.Params) (string, error) {
	return argon2id.CreateHash(pw, &p)
}

// hasher runs argon2id with a bound on how many hashes run at once: each one
// holds p.Memory KiB, so the bound is also the bound on password memory.
type hasher struct {
	params argon2id.Params
	slots  chan struct{}
	wait   time.Duration
	dummy  string // a hash of a random password, verified for unknown users

	verifications atomic.Int64 // argon2id verifications run, for tests and stats
}

func newHasher(p argon2id.Params, concurrency int, wait time.Duration) *hasher {
	dummyPW := make([]byte, 32)
	_, _ = rand.Read(dummyPW)
	dummy, err := argon2id.CreateHash(string(dummyPW), &p)
	if err != nil {
		panic("idp: argon2id: " + err.Error()) // only fails if crypto/rand fails
	}
	return &hasher{params: p, slots: make(chan struct{}, concurrency), wait: wait, dummy: dummy}
}

// acquire takes a hashing slot, waiting at most h.wait; the caller answers 503
// with Retry-After when it cannot have one.
func (h *hasher) acquire(ctx context.Context) (release func(), err error) {
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots }, nil
	default:
	}
	t := time.NewTimer(h.wait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots }, nil
	case <-t.C:
		return nil, errors.New("password hashing saturated")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// verify checks pw against hash; an empty hash (unknown user) is checked
// against the dummy so that it costs the same. stale reports that the hash
// was made with other parameters and should be replaced.
func (h *hasher) verify(pw, hash string) (ok, stale bool) {
	h.verifications.Add(1)
	if hash == "" {
		_, _, _ = argon2id.CheckHash(pw, h.dummy)
		return false, false
	}
	match, p, err := argon2id.CheckHash(pw, hash)
	if err != nil {
		// A stored hash Rotor cannot read: spend the same time, then refuse.
		_, _, _ = argon2id.CheckHash(pw, h.dummy)
		return false, false
	}
	return match, match && (p.Memory != h.params.Memory || p.Iterations != h.params.Iterations ||
		p.Parallelism != h.params.Parallelism || p.KeyLength != h.params.KeyLength || p.SaltLength != h.params.SaltLength)
}

func (h *hasher) hash(pw string) (string, error) { return argon2id.CreateHash(pw, &h.params) }
