package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// TestRevocationRaces checks that a revocation and a refresh rotating the
// same family, however they interleave, never leave the family live: a
// rotation that read the family before the revocation must not write its
// stale, unrevoked state back, and a revocation must cover the token a
// concurrent rotation issues.
func TestRevocationRaces(t *testing.T, open Open) {
	revokers := []struct {
		name string
		// revoke revokes family f<i> of user u<i> (named user<i>) on h.
		revoke func(t *testing.T, h Stores, i int) error
	}{
		{"RevokeFamily", func(t *testing.T, h Stores, i int) error {
			return h.Refresh.RevokeFamily(t.Context(), fmt.Sprint("f", i), "revoked_by_client", at(time.Second))
		}},
		{"SetUserDisabled", func(t *testing.T, h Stores, i int) error {
			return h.Users.SetUserDisabled(t.Context(), fmt.Sprint("user", i), true, at(time.Second))
		}},
		{"SetPassword", func(t *testing.T, h Stores, i int) error {
			return h.Users.SetPassword(t.Context(), fmt.Sprint("user", i), "changed", at(time.Second))
		}},
	}
	// raceFamily makes user i and their family f<i>; it returns the
	// family's first token.
	raceFamily := func(t *testing.T, s Stores, i int) idp.RefreshToken {
		mustCreateUser(t, s, fmt.Sprint("u", i), fmt.Sprint("user", i), "h")
		_, first := mustCreateFamily(t, s, fmt.Sprint("f", i), "c1", fmt.Sprint("u", i))
		return first
	}
	for _, rv := range revokers {
		t.Run(rv.name+"RacesRefresh", func(t *testing.T) {
			// Released together, 20 times over: either order, or both at
			// once on two connections.
			s := open(t)
			hs := handles(t, s)
			mustCreateClient(t, s, "c1")
			for i := range 20 {
				first := raceFamily(t, s, i)
				var latest []byte
				parallel(2, hs, func(g int, h Stores) {
					if g == 0 {
						if err := rv.revoke(t, h, i); err != nil {
							t.Errorf("%s: %v", rv.name, err)
						}
						return
					}
					latest = rotate(t, h, first.Hash, fmt.Sprint("next", i), at(time.Second))
				})
				checkNotLive(t, s, fmt.Sprint("round ", i), first.Hash, latest)
			}
		})

		t.Run(rv.name+"DuringRefresh", func(t *testing.T) {
			// The refresh has read the family, live, and decided to rotate
			// it when the revocation starts: the store must end with the
			// family revoked, whichever of the two it lets finish first.
			s := open(t)
			hs := handles(t, s)
			mustCreateClient(t, s, "c1")
			first := raceFamily(t, s, 0)
			decided, started := make(chan struct{}), make(chan struct{})
			revoked := make(chan error, 1)
			go func() {
				<-decided
				close(started)
				revoked <- rv.revoke(t, hs[len(hs)-1], 0)
			}()
			next := idp.RefreshToken{Hash: hashOf("next"), Parent: first.Hash, IssuedAt: at(time.Second)}
			calls := 0
			err := s.Refresh.UseRefresh(t.Context(), first.Hash, func(st idp.RefreshState) (idp.RefreshUpdate, error) {
				calls++
				if calls == 1 {
					close(decided)
					<-started
					// A store that does not make the revocation wait for
					// the family lock lets it commit now; give it the
					// chance. The verdict never depends on the pause: a
					// store that serialises the two simply waits it out.
					select {
					case err := <-revoked:
						revoked <- err
					case <-time.After(200 * time.Millisecond):
					}
				}
				if !st.Family.RevokedAt.IsZero() {
					return idp.RefreshUpdate{}, nil // a retry that sees the revocation
				}
				return idp.RefreshUpdate{SpendToken: at(time.Second), Issue: &next}, nil
			})
			if err != nil {
				t.Fatalf("UseRefresh: %v", err)
			}
			if err := <-revoked; err != nil {
				t.Fatalf("%s: %v", rv.name, err)
			}
			checkNotLive(t, s, "in flight", first.Hash, next.Hash)
		})
	}
}

// checkNotLive fails unless the family of every token that exists among
// hashes is revoked.
func checkNotLive(t *testing.T, s Stores, what string, hashes ...[]byte) {
	t.Helper()
	for _, h := range hashes {
		st, err := s.Refresh.LookupRefresh(t.Context(), h)
		if errors.Is(err, idp.ErrNotFound) {
			continue // never issued: the refresh lost the race
		}
		if err != nil {
			t.Fatalf("%s: LookupRefresh: %v", what, err)
		}
		if st.Family.RevokedAt.IsZero() {
			t.Errorf("%s: family %s is live after the revocation returned (token spent: %v)", what, st.Family.ID, !st.Token.SpentAt.IsZero())
		}
	}
}
