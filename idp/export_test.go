package idp

import "net/http"

// TestHooks reach into a server for the tests in package idp_test, which
// cannot be in package idp because the stores they use import it.
type TestHooks struct{ s *server }

// NewServerForTest is NewServer plus hooks.
func NewServerForTest(cfg Config, deps Deps) (http.Handler, *TestHooks) {
	s := newServer(cfg, deps)
	return s.routes(), &TestHooks{s}
}

// Verifications is how many argon2id verifications the server has run.
func (h *TestHooks) Verifications() int64 { return h.s.hasher.verifications.Load() }

// HoldHashSlots takes every password-hashing slot until release is called.
func (h *TestHooks) HoldHashSlots() (release func()) {
	n := cap(h.s.hasher.slots)
	for range n {
		h.s.hasher.slots <- struct{}{}
	}
	return func() {
		for range n {
			<-h.s.hasher.slots
		}
	}
}
