package idp

import (
	"errors"
	"fmt"
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

// Argon2Limits bound the argon2id parameters Rotor runs. A stored hash that
// names parameters outside them is refused before any memory is allocated
// (a PHC string can ask for 4 GiB per verification), and `rotor serve` and
// `rotor users` refuse settings outside them (CheckArgon2Settings), so a
// hash made by the CLI is one the server will check.
type Argon2Limits struct {
	MaxMemory      uint32 // KiB (default 64 MiB, or Argon2.Memory if larger)
	MaxIterations  uint32 // default 10, or Argon2.Iterations if larger
	MaxParallelism uint8  // default 16, or Argon2.Parallelism if larger
}

// Argon2 limits that hold whatever the configuration: argon2's own minimums
// and sane salt and key lengths.
const (
	minArgon2Salt, maxArgon2Salt = 8, 64  // bytes (RFC 9106 §3.1: at least 8)
	minArgon2Key, maxArgon2Key   = 16, 64 // bytes
)

// WithDefaults fills zero limits from p, the parameters new hashes use.
func (l Argon2Limits) WithDefaults(p argon2id.Params) Argon2Limits {
	if l.MaxMemory == 0 {
		l.MaxMemory = max(64<<10, p.Memory)
	}
	if l.MaxIterations == 0 {
		l.MaxIterations = max(10, p.Iterations)
	}
	if l.MaxParallelism == 0 {
		l.MaxParallelism = max(16, p.Parallelism)
	}
	return l
}

// CheckArgon2 reports whether p are parameters Rotor will run: within l and
// argon2's own minimums (RFC 9106 §3.1). Every stored hash passes it before
// it runs; CheckArgon2Settings applies it to the settings.
func CheckArgon2(p argon2id.Params, l Argon2Limits) error {
	switch {
	case p.Parallelism < 1 || p.Parallelism > l.MaxParallelism:
		return fmt.Errorf("argon2id parallelism %d is outside 1 to %d", p.Parallelism, l.MaxParallelism)
	case p.Iterations < 1 || p.Iterations > l.MaxIterations:
		return fmt.Errorf("argon2id iterations %d are outside 1 to %d", p.Iterations, l.MaxIterations)
	case p.Memory < 8*uint32(p.Parallelism) || p.Memory > l.MaxMemory:
		return fmt.Errorf("argon2id memory %d KiB is outside %d to %d KiB", p.Memory, 8*uint32(p.Parallelism), l.MaxMemory)
	case p.SaltLength < minArgon2Salt || p.SaltLength > maxArgon2Salt:
		return fmt.Errorf("argon2id salt of %d bytes is outside %d to %d", p.SaltLength, minArgon2Salt, maxArgon2Salt)
	case p.KeyLength < minArgon2Key || p.KeyLength > maxArgon2Key:
		return fmt.Errorf("argon2id key of %d bytes is outside %d to %d", p.KeyLength, minArgon2Key, maxArgon2Key)
	}
	return nil
}

// Bounds on the settings for new hashes, beyond Argon2Limits: 19 MiB is the
// OWASP minimum, and less than 1 MiB is only ever a mistake.
const (
	minArgon2Memory     = 1 << 10 // KiB
	maxArgon2Memory     = 4 << 20 // KiB: 4 GiB
	maxArgon2Iterations = 100
)

// CheckArgon2Settings is the one check of the parameters new hashes use and
// of the limits on stored ones, shared by `rotor serve`, `rotor users` and
// NewServer, so that every hash the CLI makes is one the server will run.
// Zero limits take their defaults from p.
func CheckArgon2Settings(p argon2id.Params, l Argon2Limits) error {
	l = l.WithDefaults(p)
	if p.Memory < minArgon2Memory || l.MaxMemory > maxArgon2Memory || l.MaxIterations > maxArgon2Iterations {
		return fmt.Errorf("argon2id settings out of range (memory %d KiB to 4 GiB in KiB, iterations 1 to %d, parallelism 1 to 255)",
			minArgon2Memory, maxArgon2Iterations)
	}
	if err := CheckArgon2(p, l); err != nil {
		return fmt.Errorf("%w (raise the limit, or lower the setting)", err)
	}
	return nil
}

// work is what an argon2id run costs in CPU: KiB of memory filled times
// passes over it (RFC 9106 §3.2). Time follows it, except that a pass over
// a small memory runs a little faster (caches; see SECURITY.md).
func work(p argon2id.Params) uint64 { return uint64(p.Memory) * uint64(p.Iterations) }
