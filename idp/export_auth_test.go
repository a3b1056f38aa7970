package idp

import "github.com/alexedwards/argon2id"

// ObserveArgon2 calls f, from any goroutine, with the parameters of every
// argon2id run from now on: tests count hash work instead of timing it.
func (h *TestHooks) ObserveArgon2(f func(argon2id.Params)) { h.s.hasher.observe.Store(&f) }

// ThrottleKeys is how many buckets each throttle table tracks.
func (h *TestHooks) ThrottleKeys() (pair, address, account int) {
	t := h.s.throttle
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pair.heap), len(t.address.heap), len(t.account.heap)
}
