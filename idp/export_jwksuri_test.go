package idp

import "time"

// SetClientJWKSTimeout shortens the fetch timeout of client jwks_uri sets.
func (h *TestHooks) SetClientJWKSTimeout(d time.Duration) { h.s.clientJWKS.timeout.Store(int64(d)) }
