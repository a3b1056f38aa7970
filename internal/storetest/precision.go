package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/keys"
)

// TestTimePrecision checks what a store does with times finer than it
// keeps (keys.Store's contract, which the idp stores share): it truncates
// them to the microsecond, towards the past, and returns them in UTC, so
// that no caller rounds its clock. A zero time stays zero.
func TestTimePrecision(t *testing.T, open Open) {
	cet := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		in   time.Time
		want time.Time
	}{
		{"nanoseconds", time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC), time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)},
		// Rounding would carry into the next second, and text-protocol
		// Postgres would round.
		{"just before a second", time.Date(2026, 3, 1, 12, 0, 0, 999999999, time.UTC), time.Date(2026, 3, 1, 12, 0, 0, 999999000, time.UTC)},
		{"half a microsecond", time.Date(2026, 3, 1, 12, 0, 0, 500, time.UTC), time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		{"other zone", time.Date(2026, 3, 1, 13, 0, 0, 1999, cet), time.Date(2026, 3, 1, 12, 0, 0, 1000, time.UTC)},
		{"before 1970", time.Date(1969, 7, 20, 20, 17, 40, 1999, time.UTC), time.Date(1969, 7, 20, 20, 17, 40, 1000, time.UTC)},
		{"exact microseconds", base, base},
	}
	s := open(t)
	mustCreateClient(t, s, "precision")
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.Truncate(time.Microsecond).UTC(); !got.Equal(tt.want) {
				t.Fatalf("test case: %v truncates to %v, not %v", tt.in, got, tt.want)
			}
			id := fmt.Sprint("p", i)
			for what, got := range map[string][]time.Time{
				"key":    keyTimes(t, s, id, tt.in),
				"user":   userTimes(t, s, id, tt.in),
				"client": clientTimes(t, s, id, tt.in),
				"family": familyTimes(t, s, id, tt.in),
				// Browser sign-in records: precision_signin.go.
				"session": sessionTimes(t, s, id, tt.in),
				"code":    codeTimes(t, s, id, tt.in),
				"consent": consentTimes(t, s, id, tt.in),
			} {
				for j, g := range got {
					if !g.Equal(tt.want) || g.Location() != time.UTC {
						t.Errorf("%s time %d: stored %v, read back %v; want %v in UTC", what, j, tt.in, g, tt.want)
					}
				}
			}
		})
	}
	t.Run("ZeroStaysZero", func(t *testing.T) {
		r := record("zero", keys.EdDSA, keys.StateNext)
		r.SignableAt = time.Time{}
		mustChange(t, s, keys.EdDSA, keys.Change{Insert: []keys.Record{r}})
		for _, g := range ring(t, s) {
			if g.KID == "zero" && !(g.ActivatedAt.IsZero() && g.RetiredAt.IsZero() && g.RevokedAt.IsZero() && g.SignableAt.IsZero()) {
				t.Errorf("zero times read back as %+v", g)
			}
		}
	})
}

// keyTimes stores a key with every time at in, moves it through an update
// with the same times, and returns all five as read back.
func keyTimes(t *testing.T, s Stores, kid string, in time.Time) []time.Time {
	t.Helper()
	r := record(kid, keys.RS256, keys.StateRevoked)
	r.CreatedAt, r.ActivatedAt, r.RetiredAt, r.SignableAt = in, in, in, in
	mustChange(t, s, keys.RS256, keys.Change{Insert: []keys.Record{r}})
	r.RevokedAt = in
	mustChange(t, s, keys.RS256, keys.Change{Update: []keys.Record{r}})
	for _, g := range ring(t, s) {
		if g.KID == kid {
			return []time.Time{g.CreatedAt, g.ActivatedAt, g.RetiredAt, g.RevokedAt, g.SignableAt}
		}
	}
	t.Fatalf("key %s not read back", kid)
	return nil
}

func userTimes(t *testing.T, s Stores, id string, in time.Time) []time.Time {
	t.Helper()
	if err := s.Users.CreateUser(t.Context(), idp.User{ID: id, Name: id, PasswordHash: "h", CreatedAt: in, UpdatedAt: in}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	u, err := s.Users.UserByName(t.Context(), id)
	if err != nil {
		t.Fatalf("UserByName: %v", err)
	}
	return []time.Time{u.CreatedAt, u.UpdatedAt}
}

func clientTimes(t *testing.T, s Stores, id string, in time.Time) []time.Time {
	t.Helper()
	if err := s.Clients.CreateClient(t.Context(), idp.Client{ID: id, SecretHash: hashOf(id), CreatedAt: in}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	c, err := s.Clients.ClientByID(t.Context(), id)
	if err != nil {
		t.Fatalf("ClientByID: %v", err)
	}
	return []time.Time{c.CreatedAt}
}

func familyTimes(t *testing.T, s Stores, id string, in time.Time) []time.Time {
	t.Helper()
	f := idp.Family{ID: id, ClientID: "precision", Subject: "u", AuthTime: in, CreatedAt: in, ExpiresAt: in, RevokedAt: in, RevokeReason: "test"}
	tok := idp.RefreshToken{Hash: hashOf("precision " + id), FamilyID: id, IssuedAt: in, SpentAt: in}
	if err := s.Refresh.CreateFamily(t.Context(), f, tok); err != nil {
		t.Fatalf("CreateFamily: %v", err)
	}
	st, err := s.Refresh.LookupRefresh(t.Context(), tok.Hash)
	if err != nil {
		t.Fatalf("LookupRefresh: %v", err)
	}
	return []time.Time{st.Family.AuthTime, st.Family.CreatedAt, st.Family.ExpiresAt, st.Family.RevokedAt, st.Token.IssuedAt, st.Token.SpentAt}
}
