package resource

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/resource/resourcetest"
)

// newVerifier returns a warm verifier for iss: its first key set is fetched
// before it returns.
func newVerifier(t testing.TB, iss *resourcetest.Issuer, mods ...func(*Config)) *Verifier {
	t.Helper()
	v := newColdVerifier(t, iss, mods...)
	if err := v.Refresh(context.Background()); err != nil {
		t.Fatalf("warming the verifier: %v", err)
	}
	return v
}

func newColdVerifier(t testing.TB, iss *resourcetest.Issuer, mods ...func(*Config)) *Verifier {
	t.Helper()
	cfg := Config{
		Issuer:      iss.URL(),
		Audience:    resourcetest.Audience,
		Logger:      slog.New(slog.DiscardHandler),
		HTTPTimeout: 5 * time.Second,
	}
	for _, m := range mods {
		m(&cfg)
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// clock is a settable clock for Config.now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// await polls cond until it holds, failing the test after a deadline. It
// waits for a condition; it never stands in for one.
func await(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
