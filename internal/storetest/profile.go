package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// testUpdateProfile checks UserStore.UpdateProfile, with ProfileUpdate.Apply
// as the oracle: the store must apply exactly what Apply decides.
func testUpdateProfile(t *testing.T, open Open) {
	str := func(s string) *string { return &s }
	yes, no := true, false
	tests := []struct {
		name string
		p    idp.ProfileUpdate
	}{
		{"nothing", idp.ProfileUpdate{}},
		{"display name", idp.ProfileUpdate{DisplayName: str("Alice L.")}},
		{"new email clears verification", idp.ProfileUpdate{Email: str("alice@example.org")}},
		{"new email, verified", idp.ProfileUpdate{Email: str("alice@example.org"), EmailVerified: &yes}},
		{"same email keeps verification", idp.ProfileUpdate{Email: str("alice@example.com")}},
		{"unverify", idp.ProfileUpdate{EmailVerified: &no}},
		{"remove everything", idp.ProfileUpdate{Email: str(""), DisplayName: str("")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			mustCreateClient(t, s, "web")
			u := idp.User{ID: "u1", Name: "alice", PasswordHash: "h1", CreatedAt: base, UpdatedAt: base,
				Email: "alice@example.com", EmailVerified: true, DisplayName: "Alice"}
			if err := s.Users.CreateUser(t.Context(), u); err != nil {
				t.Fatal(err)
			}
			_, tok := mustCreateFamily(t, s, "f1", "web", "u1")
			got, err := s.Users.UpdateProfile(t.Context(), "alice", tt.p, at(time.Hour))
			if err != nil {
				t.Fatalf("UpdateProfile: %v", err)
			}
			want := tt.p.Apply(u)
			want.UpdatedAt = at(time.Hour)
			diff(t, "returned user", want, got)
			stored, err := s.Users.UserByName(t.Context(), "alice")
			if err != nil {
				t.Fatal(err)
			}
			diff(t, "stored user", want, stored)
			checkLive(t, s, tok.Hash) // a profile change revokes nothing
		})
	}

	t.Run("ConcurrentUpdatesOfDifferentFields", func(t *testing.T) {
		s := open(t)
		hs := handles(t, s)
		for round := range 10 {
			name := fmt.Sprint("user", round)
			mustCreateUser(t, s, fmt.Sprint("u", round), name, "h")
			email, display := fmt.Sprintf("%s@example.com", name), "User "+name
			parallel(2, hs, func(i int, h Stores) {
				p := idp.ProfileUpdate{Email: &email}
				if i == 1 {
					p = idp.ProfileUpdate{DisplayName: &display}
				}
				if _, err := h.Users.UpdateProfile(t.Context(), name, p, at(time.Second)); err != nil {
					t.Errorf("UpdateProfile: %v", err)
				}
			})
			got, err := s.Users.UserByName(t.Context(), name)
			if err != nil {
				t.Fatal(err)
			}
			if got.Email != email || got.DisplayName != display {
				t.Fatalf("round %d: email %q, name %q; want both updates", round, got.Email, got.DisplayName)
			}
		}
	})
}
