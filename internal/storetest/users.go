package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// TestUserStore checks idp.UserStore.
func TestUserStore(t *testing.T, open Open) {
	t.Run("CreateAndGet", func(t *testing.T) {
		s := open(t)
		tests := []idp.User{
			{ID: "u1", Name: "alice", PasswordHash: "$argon2id$v=19$m=65536,t=1,p=2$c2FsdA$aGFzaA", CreatedAt: base, UpdatedAt: at(time.Hour),
				Email: "alice@example.com", EmailVerified: true, DisplayName: "Alice Liddell ✓"},
			{ID: "u2", Name: "bob", PasswordHash: "h", Disabled: true, CreatedAt: at(-time.Hour), UpdatedAt: at(time.Microsecond)},
		}
		for _, u := range tests {
			t.Run(u.Name, func(t *testing.T) {
				if err := s.Users.CreateUser(t.Context(), u); err != nil {
					t.Fatalf("CreateUser: %v", err)
				}
				got, err := s.Users.UserByName(t.Context(), u.Name)
				if err != nil {
					t.Fatalf("UserByName: %v", err)
				}
				diff(t, "user", u, got)
				byID, err := s.Users.UserByID(t.Context(), u.ID)
				if err != nil {
					t.Fatalf("UserByID: %v", err)
				}
				diff(t, "user by ID", u, byID)
				if got.CreatedAt.Location() != time.UTC || got.UpdatedAt.Location() != time.UTC {
					t.Errorf("times are in %v/%v, want UTC", got.CreatedAt.Location(), got.UpdatedAt.Location())
				}
			})
		}
	})

	t.Run("CreateConflict", func(t *testing.T) {
		s := open(t)
		orig := mustCreateUser(t, s, "u1", "alice", "h1")
		tests := []struct {
			name string
			u    idp.User
		}{
			{"same name", idp.User{ID: "u2", Name: "alice", PasswordHash: "h2", CreatedAt: base, UpdatedAt: base}},
			{"same id", idp.User{ID: "u1", Name: "alicia", PasswordHash: "h2", CreatedAt: base, UpdatedAt: base}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				wantErr(t, "CreateUser", s.Users.CreateUser(t.Context(), tt.u), idp.ErrConflict)
			})
		}
		got, err := s.Users.Users(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		diff(t, "users after conflicts", []idp.User{orig}, got)
	})

	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		mustCreateUser(t, s, "u1", "alice", "h1")
		_, err := s.Users.UserByName(t.Context(), "bob")
		wantErr(t, "UserByName", err, idp.ErrNotFound)
		wantErr(t, "SetUserDisabled", s.Users.SetUserDisabled(t.Context(), "bob", true, base), idp.ErrNotFound)
		wantErr(t, "SetPassword", s.Users.SetPassword(t.Context(), "bob", "h", base), idp.ErrNotFound)
		name := "Bob"
		_, err = s.Users.UpdateProfile(t.Context(), "bob", idp.ProfileUpdate{DisplayName: &name}, base)
		wantErr(t, "UpdateProfile", err, idp.ErrNotFound)
		_, err = s.Users.UserByID(t.Context(), "u2")
		wantErr(t, "UserByID", err, idp.ErrNotFound)
		// Names are not IDs, nor IDs names.
		_, err = s.Users.UserByName(t.Context(), "u1")
		wantErr(t, "UserByName(id)", err, idp.ErrNotFound)
		_, err = s.Users.UserByID(t.Context(), "alice")
		wantErr(t, "UserByID(name)", err, idp.ErrNotFound)
	})

	t.Run("UpdateProfile", func(t *testing.T) { testUpdateProfile(t, open) })

	t.Run("UsersOrderedByName", func(t *testing.T) {
		s := open(t)
		got, err := s.Users.Users(t.Context())
		if err != nil || len(got) != 0 {
			t.Fatalf("Users on an empty store = %v, %v; want none, nil", got, err)
		}
		// Byte order, whatever the database's collation: upper case first.
		for i, name := range []string{"bob", "Zoe", "alice", "al", "alice.b"} {
			mustCreateUser(t, s, fmt.Sprint("u", i), name, "h")
		}
		got, err = s.Users.Users(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, u := range got {
			names = append(names, u.Name)
		}
		diff(t, "names", []string{"Zoe", "al", "alice", "alice.b", "bob"}, names)
	})

	t.Run("DisableRevokesFamilies", func(t *testing.T) {
		s := open(t)
		mustCreateClient(t, s, "c1")
		u := mustCreateUser(t, s, "u1", "alice", "h1")
		mustCreateUser(t, s, "u2", "bob", "h2")
		_, live := mustCreateFamily(t, s, "f-live", "c1", "u1")
		_, earlier := mustCreateFamily(t, s, "f-earlier", "c1", "u1")
		_, other := mustCreateFamily(t, s, "f-other", "c1", "u2")
		if err := s.Refresh.RevokeFamily(t.Context(), "f-earlier", "logout", at(time.Minute)); err != nil {
			t.Fatal(err)
		}

		if err := s.Users.SetUserDisabled(t.Context(), "alice", true, at(time.Hour)); err != nil {
			t.Fatalf("SetUserDisabled(true): %v", err)
		}
		got, err := s.Users.UserByName(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		u.Disabled, u.UpdatedAt, u.CredentialVersion = true, at(time.Hour), 1
		diff(t, "disabled user", u, got)
		checkRevoked(t, s, live.Hash, at(time.Hour), "")
		checkRevoked(t, s, earlier.Hash, at(time.Minute), "logout")
		checkLive(t, s, other.Hash)

		// Enabling again restores the user, not the families.
		if err := s.Users.SetUserDisabled(t.Context(), "alice", false, at(2*time.Hour)); err != nil {
			t.Fatalf("SetUserDisabled(false): %v", err)
		}
		got, err = s.Users.UserByName(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		u.Disabled, u.UpdatedAt, u.CredentialVersion = false, at(2*time.Hour), 2
		diff(t, "enabled user", u, got)
		checkRevoked(t, s, live.Hash, at(time.Hour), "")
		checkLive(t, s, other.Hash)
	})

	t.Run("SetPasswordRevokesFamilies", func(t *testing.T) {
		s := open(t)
		mustCreateClient(t, s, "c1")
		u := mustCreateUser(t, s, "u1", "alice", "h1")
		mustCreateUser(t, s, "u2", "bob", "h2")
		_, live := mustCreateFamily(t, s, "f-live", "c1", "u1")
		_, earlier := mustCreateFamily(t, s, "f-earlier", "c1", "u1")
		_, other := mustCreateFamily(t, s, "f-other", "c1", "u2")
		if err := s.Refresh.RevokeFamily(t.Context(), "f-earlier", "logout", at(time.Minute)); err != nil {
			t.Fatal(err)
		}

		if err := s.Users.SetPassword(t.Context(), "alice", "h1-new", at(time.Hour)); err != nil {
			t.Fatalf("SetPassword: %v", err)
		}
		got, err := s.Users.UserByName(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		u.PasswordHash, u.UpdatedAt, u.CredentialVersion = "h1-new", at(time.Hour), 1
		diff(t, "user", u, got)
		checkRevoked(t, s, live.Hash, at(time.Hour), "")
		checkRevoked(t, s, earlier.Hash, at(time.Minute), "logout")
		checkLive(t, s, other.Hash)
	})

	t.Run("RehashPassword", func(t *testing.T) {
		tests := []struct {
			name         string
			id, old, new string
			wantReplaced bool
			wantHash     string
		}{
			{"matching hash", "u1", "h1", "h1-rehashed", true, "h1-rehashed"},
			{"stale hash", "u1", "h0", "h1-rehashed", false, "h1"},
			{"unknown user", "u9", "h1", "h1-rehashed", false, "h1"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := open(t)
				mustCreateClient(t, s, "c1")
				mustCreateUser(t, s, "u1", "alice", "h1")
				_, tok := mustCreateFamily(t, s, "f1", "c1", "u1")
				replaced, err := s.Users.RehashPassword(t.Context(), tt.id, tt.old, tt.new, at(time.Hour))
				if err != nil && !(tt.id == "u9" && errors.Is(err, idp.ErrNotFound)) { // the contract is silent on unknown ids
					t.Fatalf("RehashPassword: %v", err)
				}
				if replaced != tt.wantReplaced {
					t.Errorf("replaced = %v, want %v", replaced, tt.wantReplaced)
				}
				got, err := s.Users.UserByName(t.Context(), "alice")
				if err != nil {
					t.Fatal(err)
				}
				if got.PasswordHash != tt.wantHash {
					t.Errorf("hash = %q, want %q", got.PasswordHash, tt.wantHash)
				}
				checkLive(t, s, tok.Hash) // a rehash is not a password change
			})
		}
	})

	t.Run("RehashRacesSetPassword", func(t *testing.T) {
		// Whichever runs first, the password change must win: a login's
		// rehash may never restore the old password.
		s := open(t)
		hs := handles(t, s)
		for i := range 20 {
			name := fmt.Sprint("user", i)
			mustCreateUser(t, s, fmt.Sprint("u", i), name, "old")
			parallel(2, hs, func(g int, h Stores) {
				if g == 0 {
					if _, err := h.Users.RehashPassword(t.Context(), fmt.Sprint("u", i), "old", "old-rehashed", at(time.Second)); err != nil {
						t.Errorf("RehashPassword: %v", err)
					}
				} else if err := h.Users.SetPassword(t.Context(), name, "changed", at(time.Second)); err != nil {
					t.Errorf("SetPassword: %v", err)
				}
			})
			got, err := s.Users.UserByName(t.Context(), name)
			if err != nil {
				t.Fatal(err)
			}
			if got.PasswordHash != "changed" {
				t.Fatalf("round %d: hash = %q, want the changed password", i, got.PasswordHash)
			}
		}
	})
}

// checkRevoked checks the family of the token is revoked at when; an empty
// reason only asks for some reason.
func checkRevoked(t *testing.T, s Stores, hash []byte, when time.Time, reason string) {
	t.Helper()
	f := mustLookup(t, s, hash).Family
	if !f.RevokedAt.Equal(when) {
		t.Errorf("family %s: RevokedAt = %v, want %v", f.ID, f.RevokedAt, when)
	}
	if reason == "" && f.RevokeReason == "" {
		t.Errorf("family %s: no revoke reason", f.ID)
	}
	if reason != "" && f.RevokeReason != reason {
		t.Errorf("family %s: RevokeReason = %q, want %q", f.ID, f.RevokeReason, reason)
	}
}

func checkLive(t *testing.T, s Stores, hash []byte) {
	t.Helper()
	f := mustLookup(t, s, hash).Family
	if !f.RevokedAt.IsZero() || f.RevokeReason != "" {
		t.Errorf("family %s: revoked at %v (%q), want live", f.ID, f.RevokedAt, f.RevokeReason)
	}
}
