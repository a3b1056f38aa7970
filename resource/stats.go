package resource

import (
	"errors"
	"sync/atomic"
	"time"
)

// counters are a Verifier's event counts, read by Stats. All are atomics:
// the request path only adds.
type counters struct {
	fetchFailures atomic.Uint64
	kidMisses     atomic.Uint64
	suppressed    atomic.Uint64
	rejections    [len(rejectionReasons)]atomic.Uint64
}

// rejectionReasons name why Verify refused a token, for Stats.Rejections:
// a short fixed name per error Verify returns, never a value from the
// token.
var rejectionReasons = [...]struct {
	name string
	err  error
}{
	{"no_token", ErrNoToken},
	{"too_large", errTooLarge},
	{"malformed", errMalformed},
	{"header", errHeader},
	{"header_too_large", errHeaderTooLarge},
	{"alg", errAlg},
	{"typ", errTyp},
	{"no_kid", errNoKID},
	{"crit", errCrit},
	{"unknown_kid", errUnknownKID},
	{"key_mismatch", errKeyMismatch},
	{"signature", errSignature},
	{"claims", errClaims},
	{"issuer", errIssuer},
	{"audience", errAudience},
	{"exp_missing", errNoExp},
	{"expired", errExpired},
	{"iat_missing", errNoIat},
	{"iat_future", errIatFuture},
	{"not_yet_valid", errNotYetValid},
	{"sub_missing", errNoSub},
	{"client_id_missing", errNoClientID},
	{"jti_missing", errNoJTI},
	{"cnf", errCnf},
	{"dpop_bound_as_bearer", errBoundAsBearer},
	{"dpop_unbound", errUnboundDPoP},
	{"bearer_refused", errBearerRefused},
	{"dpop_proof_key", errProofKey},
	{"dpop_proof_replay", errProofReplay},
	{"dpop_proof", ErrInvalidDPoPProof}, // any other proof failure
	{"keys_unavailable", ErrKeysUnavailable},
	{"other", nil},
}

// rejectionIndex maps Verify's preallocated errors to their reason.
var rejectionIndex = func() map[error]int {
	m := make(map[error]int, len(rejectionReasons))
	for i, r := range rejectionReasons {
		if r.err != nil {
			m[r.err] = i
		}
	}
	return m
}()

// rejected counts a token Verify refused.
func (v *Verifier) rejected(err error) {
	i, ok := rejectionIndex[err]
	switch {
	case ok:
	case errors.Is(err, ErrKeysUnavailable):
		i = rejectionIndex[ErrKeysUnavailable]
	case errors.Is(err, ErrInvalidDPoPProof):
		i = rejectionIndex[ErrInvalidDPoPProof]
	default:
		i = len(rejectionReasons) - 1
	}
	v.counters.rejections[i].Add(1)
}

// rejections returns the nonzero rejection counts by reason.
func (v *Verifier) rejections() map[string]uint64 {
	out := map[string]uint64{}
	for i := range rejectionReasons {
		if n := v.counters.rejections[i].Load(); n > 0 {
			out[rejectionReasons[i].name] = n
		}
	}
	return out
}

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
	// FetchFailures counts failed fetches of the key set (all time).
	FetchFailures uint64
	// UnknownKIDs counts tokens whose kid was not in a usable key set.
	UnknownKIDs uint64
	// RefetchesSuppressed counts on-demand fetches (an unknown kid, no key
	// set) refused because one ran less than Config.UnknownKeyFloor ago.
	RefetchesSuppressed uint64
	// Rejections counts the tokens Verify refused, by a short fixed reason
	// (expired, signature, unknown_kid, audience, keys_unavailable, …);
	// reasons never seen are absent.
	Rejections map[string]uint64
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
	s.FetchFailures = v.counters.fetchFailures.Load()
	s.UnknownKIDs = v.counters.kidMisses.Load()
	s.RefetchesSuppressed = v.counters.suppressed.Load()
	s.Rejections = v.rejections()
	if v.cache != nil {
		s.CacheHits, s.CacheMisses, s.CacheEntries = v.cache.counts()
	}
	return s
}
