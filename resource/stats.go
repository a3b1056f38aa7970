package resource

import "time"

// Stats is a point-in-time view of a Verifier, for metrics and health checks.
type Stats struct {
	// Keys is the number of usable keys in the current key set.
	Keys int
	// LastRefresh is when the key set was last fetched or confirmed by a
	// 304; zero before the first success.
	LastRefresh time.Time
	// KeySetAge is the time since LastRefresh; zero before the first
	// success. Verify fails closed once it exceeds Config.MaxStale.
	KeySetAge time.Duration
	// ConsecutiveFailures counts failed fetches since the last success.
	ConsecutiveFailures int
	// LastError is the category of the latest fetch's failure, empty if it
	// succeeded: discovery, issuer_mismatch, network, timeout, status,
	// redirect, too_large, malformed or no_usable_keys.
	LastError string
	// Fetches counts HTTP requests for the JWKS.
	Fetches uint64
	// CacheHits and CacheMisses count verified-token cache lookups;
	// CacheEntries is its current size.
	CacheHits, CacheMisses uint64
	CacheEntries           int
}

// Stats returns current statistics.
func (v *Verifier) Stats() Stats {
	var s Stats
	if snap := v.snap.Load(); snap != nil {
		s.Keys = len(snap.keys)
		s.LastRefresh = snap.fetched
		s.KeySetAge = v.now().Sub(snap.fetched)
	}
	v.smu.Lock()
	s.ConsecutiveFailures, s.LastError = v.failures, v.lastErr
	v.smu.Unlock()
	s.Fetches = v.fetches.Load()
	if v.cache != nil {
		s.CacheHits, s.CacheMisses, s.CacheEntries = v.cache.counts()
	}
	return s
}
