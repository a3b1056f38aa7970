package resource

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/resource/resourcetest"
)

// TestRequiredClaims: RFC 9068 §2.2 requires client_id and jti, and Rotor
// always sets them; a token without one (or with an empty one) is refused
// for that reason, even with a valid signature.
func TestRequiredClaims(t *testing.T) {
	iss := resourcetest.New(t)
	v := newVerifier(t, iss, func(c *Config) { c.CacheSize = -1 })
	rs := iss.Current(resourcetest.RS256)
	tests := []struct {
		name string
		edit func(map[string]any)
		want error
	}{
		{"no client_id", func(c map[string]any) { delete(c, "client_id") }, errNoClientID},
		{"empty client_id", func(c map[string]any) { c["client_id"] = "" }, errNoClientID},
		{"no jti", func(c map[string]any) { delete(c, "jti") }, errNoJTI},
		{"empty jti", func(c map[string]any) { c["jti"] = "" }, errNoJTI},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims := iss.DefaultClaims().Map()
			tt.edit(claims)
			_, err := v.Verify(context.Background(), resourcetest.Sign(rs, rotorHeader(rs), claims))
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrInvalidToken) {
				t.Errorf("Verify: %v, want %v", err, tt.want)
			}
		})
	}
}

// TestDefaultMaxStale: a key set the issuer can no longer be asked about
// serves for an hour by default, not a day: that is how long a key the
// issuer revoked can stay trusted during an outage of its JWKS.
func TestDefaultMaxStale(t *testing.T) {
	if defaultMaxStale != time.Hour {
		t.Errorf("default MaxStale = %v, want 1h", defaultMaxStale)
	}
	if defaultMaxStale < 2*defaultMaxRefresh {
		t.Errorf("default MaxStale %v is less than two refreshes (%v each): one failed fetch would fail every request", defaultMaxStale, defaultMaxRefresh)
	}
}
