package resource

import (
	"errors"
	"sync/atomic"
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
	if !ok {
		i = len(rejectionReasons) - 1
		if errors.Is(err, ErrKeysUnavailable) {
			i = len(rejectionReasons) - 2
		}
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
