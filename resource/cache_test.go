package resource

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rotor-idp/rotor/resource/resourcetest"
)

func TestCache(t *testing.T) {
	iss := resourcetest.New(t)
	ctx := context.Background()

	t.Run("hit returns the same claims", func(t *testing.T) {
		v := newVerifier(t, iss)
		token := iss.Token()
		first, err := v.Verify(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		second, err := v.Verify(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(first, second, cmp.AllowUnexported(Claims{})); diff != "" {
			t.Errorf("cached claims (-want +got):\n%s", diff)
		}
		if st := v.Stats(); st.CacheHits != 1 || st.CacheMisses != 1 || st.CacheEntries != 1 {
			t.Errorf("Stats = %+v, want 1 hit, 1 miss, 1 entry", st)
		}
	})

	t.Run("callers cannot change cached claims", func(t *testing.T) {
		v := newVerifier(t, iss)
		token := iss.Token()
		c, err := v.Verify(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		want := c
		c.Subject = "admin"
		c.Audience()[0] = "other"
		c.Scopes()[0] = "admin"
		var m map[string]any
		c.Decode(&m)
		m["sub"] = "admin"
		again, err := v.Verify(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, again, cmp.AllowUnexported(Claims{})); diff != "" {
			t.Errorf("cached claims changed (-want +got):\n%s", diff)
		}
		if again.HasScope("admin") {
			t.Error("scope added through a returned slice")
		}
	})

	t.Run("expired cached token is rejected", func(t *testing.T) {
		clk := newClock()
		v := newVerifier(t, iss, func(c *Config) { c.now = clk.now; c.Leeway = 10 * time.Second })
		token := iss.Token(resourcetest.WithClaims(func(c *resourcetest.Claims) { c.ExpiresAt = clk.now().Add(time.Minute) }))
		for range 2 {
			if _, err := v.Verify(ctx, token); err != nil {
				t.Fatal(err)
			}
		}
		clk.advance(time.Minute + 5*time.Second) // within leeway
		if _, err := v.Verify(ctx, token); err != nil {
			t.Fatalf("within leeway: %v", err)
		}
		clk.advance(6 * time.Second)
		if _, err := v.Verify(ctx, token); !errors.Is(err, errExpired) {
			t.Fatalf("after exp + leeway: %v, want expired", err)
		}
		if st := v.Stats(); st.CacheEntries != 0 {
			t.Errorf("expired entry kept: %+v", st)
		}
	})

	t.Run("whole token compared", func(t *testing.T) {
		v := newVerifier(t, iss)
		token := iss.Token()
		if _, err := v.Verify(ctx, token); err != nil {
			t.Fatal(err)
		}
		// Same header and payload, and all but the last signature
		// characters: a prefix or hash-prefix cache would say yes.
		last := token[len(token)-2]
		flip := byte('A')
		if last == 'A' {
			flip = 'B'
		}
		sibling := token[:len(token)-2] + string(flip) + token[len(token)-1:]
		if _, err := v.Verify(ctx, sibling); !errors.Is(err, errSignature) {
			t.Errorf("token sharing a %d-byte prefix: %v, want bad signature", len(token)-2, err)
		}
		longer := token + "A"
		if _, err := v.Verify(ctx, longer); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("token with the cached token as prefix: %v", err)
		}
	})

	t.Run("bounded", func(t *testing.T) {
		v := newVerifier(t, iss, func(c *Config) { c.CacheSize = 32 })
		for range 300 {
			if _, err := v.Verify(ctx, iss.Token(resourcetest.WithAlg(resourcetest.EdDSA))); err != nil {
				t.Fatal(err)
			}
		}
		if st := v.Stats(); st.CacheEntries > 32 || st.CacheEntries < 16 {
			t.Errorf("CacheEntries = %d, want at most 32", st.CacheEntries)
		}
	})

	t.Run("disabled", func(t *testing.T) {
		v := newVerifier(t, iss, func(c *Config) { c.CacheSize = -1 })
		token := iss.Token()
		for range 3 {
			if _, err := v.Verify(ctx, token); err != nil {
				t.Fatal(err)
			}
		}
		if st := v.Stats(); st.CacheHits != 0 || st.CacheEntries != 0 {
			t.Errorf("Stats = %+v", st)
		}
	})

	t.Run("refresh keeps entries of unchanged keys", func(t *testing.T) {
		v := newVerifier(t, iss)
		token := iss.Token()
		v.Verify(ctx, token)
		v.etag = "" // force a 200 with the same keys
		if err := v.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		v.Verify(ctx, token)
		if st := v.Stats(); st.CacheHits != 1 {
			t.Errorf("Stats = %+v, want the entry to survive", st)
		}
	})

	t.Run("hit does not allocate", func(t *testing.T) {
		v := newVerifier(t, iss)
		token := iss.Token()
		v.Verify(ctx, token)
		if n := testing.AllocsPerRun(100, func() { v.Verify(ctx, token) }); n != 0 {
			t.Errorf("%v allocations per cached Verify", n)
		}
	})
}
