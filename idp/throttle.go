package idp

import (
	"math"
	"sync"
	"time"
)

// ThrottleConfig bounds failed password logins. Each key (an account, or a
// client address) has a bucket of Burst failures that refills at Burst per
// Window; an empty bucket answers 429 before any hash runs.
type ThrottleConfig struct {
	AccountBurst  int           // failed logins per account before throttling (default 10)
	AddressBurst  int           // failed logins per client address (default 100)
	Window        time.Duration // time for an empty bucket to refill (default 15m)
	MaxTrackedKey int           // bound on remembered keys (default 100000)
}

func (c ThrottleConfig) withDefaults() ThrottleConfig {
	if c.AccountBurst <= 0 {
		c.AccountBurst = 10
	}
	if c.AddressBurst <= 0 {
		c.AddressBurst = 100
	}
	if c.Window <= 0 {
		c.Window = 15 * time.Minute
	}
	if c.MaxTrackedKey <= 0 {
		c.MaxTrackedKey = 100_000
	}
	return c
}

// throttle is a set of failure buckets. It is in memory, so each replica
// counts on its own: N replicas allow N times the burst at most.
type throttle struct {
	mu      sync.Mutex
	burst   float64
	rate    float64 // tokens per second
	max     int
	buckets map[string]bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newThrottle(burst int, window time.Duration, max int) *throttle {
	return &throttle{burst: float64(burst), rate: float64(burst) / window.Seconds(), max: max, buckets: make(map[string]bucket)}
}

// level returns the key's bucket refilled to now; the caller holds mu.
func (t *throttle) level(key string, now time.Time) float64 {
	b, ok := t.buckets[key]
	if !ok {
		return t.burst
	}
	return min(t.burst, b.tokens+now.Sub(b.at).Seconds()*t.rate)
}

// wait returns how long key must wait before its next attempt; 0 if it may go.
func (t *throttle) wait(key string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	lvl := t.level(key, now)
	if lvl >= 1 {
		return 0
	}
	// Rounded up to the millisecond, so float error never shortens a wait.
	return time.Duration(math.Ceil((1-lvl)/t.rate*1000)) * time.Millisecond
}

// fail takes one token from key's bucket.
func (t *throttle) fail(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	lvl := t.level(key, now)
	if _, ok := t.buckets[key]; !ok && len(t.buckets) >= t.max {
		t.sweep(now)
	}
	t.buckets[key] = bucket{tokens: max(0, lvl-1), at: now}
}

// reset forgets key (a successful login clears the account's failures).
func (t *throttle) reset(key string) {
	t.mu.Lock()
	delete(t.buckets, key)
	t.mu.Unlock()
}

// sweep drops full buckets, which carry no information; if that frees
// nothing, it drops arbitrary ones down to 90% of the bound, so memory stays
// bounded and sweeps stay rare. The caller holds mu.
func (t *throttle) sweep(now time.Time) {
	for k := range t.buckets {
		if t.level(k, now) >= t.burst {
			delete(t.buckets, k)
		}
	}
	for k := range t.buckets {
		if len(t.buckets) < t.max*9/10 {
			break
		}
		delete(t.buckets, k)
	}
}
