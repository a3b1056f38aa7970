package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// TestCredentialVersion checks the credential version of UserStore and the
// checks CreateFamily and CreateSession make against it: what a sign-in
// creates after the password changed or the user was disabled, from a
// password check that read the state before, is refused; racing, it is
// refused or revoked.
func TestCredentialVersion(t *testing.T, open Open) {
	t.Run("Increments", func(t *testing.T) {
		s := open(t)
		mustCreateUser(t, s, "u1", "alice", "h1")
		steps := []struct {
			name string
			do   func() error
			want int64
		}{
			{"created", func() error { return nil }, 0},
			{"SetPassword", func() error { return s.Users.SetPassword(t.Context(), "alice", "h2", at(time.Minute)) }, 1},
			{"RehashPassword (not a change)", func() error {
				_, err := s.Users.RehashPassword(t.Context(), "u1", "h2", "h3", at(2*time.Minute))
				return err
			}, 1},
			{"UpdateProfile", func() error {
				_, err := s.Users.UpdateProfile(t.Context(), "alice", idp.ProfileUpdate{}, at(3*time.Minute))
				return err
			}, 1},
			{"SetUserDisabled(true)", func() error { return s.Users.SetUserDisabled(t.Context(), "alice", true, at(4*time.Minute)) }, 2},
			{"SetUserDisabled(false)", func() error { return s.Users.SetUserDisabled(t.Context(), "alice", false, at(5*time.Minute)) }, 3},
		}
		for _, st := range steps {
			if err := st.do(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			u, err := s.Users.UserByName(t.Context(), "alice")
			if err != nil {
				t.Fatal(err)
			}
			if u.CredentialVersion != st.want {
				t.Errorf("after %s: CredentialVersion = %d, want %d", st.name, u.CredentialVersion, st.want)
			}
		}
	})

	t.Run("CreateFamilyChecksTheUser", func(t *testing.T) {
		s := open(t)
		mustCreateClient(t, s, "c1")
		mustCreateUser(t, s, "u1", "alice", "h1")
		mustCreateUser(t, s, "u2", "bob", "h2")
		if err := s.Users.SetPassword(t.Context(), "alice", "h1-new", at(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.Users.SetUserDisabled(t.Context(), "bob", true, at(time.Minute)); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name    string
			subject string
			version int64
			want    error
		}{
			{"password changed since the check", "u1", 0, idp.ErrRevoked},
			{"current version", "u1", 1, nil},
			{"disabled user, current version", "u2", 1, idp.ErrRevoked},
			{"disabled user, version of the check", "u2", 0, idp.ErrRevoked},
			{"a subject that is no user", "svc", 0, nil},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f, tok := family(fmt.Sprint("f", i), "c1", tt.subject)
				f.CredentialVersion = tt.version
				err := s.Refresh.CreateFamily(t.Context(), f, tok)
				if tt.want == nil {
					if err != nil {
						t.Fatalf("CreateFamily: %v", err)
					}
					checkLive(t, s, tok.Hash)
					return
				}
				wantErr(t, "CreateFamily", err, tt.want)
				if _, err := s.Refresh.LookupRefresh(t.Context(), tok.Hash); err == nil {
					t.Error("the refused family was stored")
				}
			})
		}
	})

	t.Run("CreateSessionChecksTheVersion", func(t *testing.T) {
		s := open(t)
		mustCreateUser(t, s, "u1", "alice", "h1")
		if err := s.Users.SetPassword(t.Context(), "alice", "h1-new", at(time.Minute)); err != nil {
			t.Fatal(err)
		}
		stale := session("s-stale", "u1")
		wantErr(t, "CreateSession(stale version)", s.Sessions.CreateSession(t.Context(), stale), idp.ErrNotFound)
		current := session("s-current", "u1")
		current.CredentialVersion = 1
		if err := s.Sessions.CreateSession(t.Context(), current); err != nil {
			t.Fatalf("CreateSession(current version): %v", err)
		}
	})

	t.Run("UseRefreshSeesTheUser", func(t *testing.T) {
		s := open(t)
		mustCreateClient(t, s, "c1")
		mustCreateUser(t, s, "u1", "alice", "h1")
		mustCreateUser(t, s, "u2", "bob", "h2")
		_, alice := mustCreateFamily(t, s, "f1", "c1", "u1")
		_, bob := mustCreateFamily(t, s, "f2", "c1", "u2")
		_, svc := mustCreateFamily(t, s, "f3", "c1", "svc")
		if err := s.Users.SetUserDisabled(t.Context(), "alice", true, at(time.Minute)); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name string
			hash []byte
			want bool
		}{{"disabled", alice.Hash, true}, {"enabled", bob.Hash, false}, {"no user", svc.Hash, false}} {
			if got := mustLookup(t, s, tt.hash).UserDisabled; got != tt.want {
				t.Errorf("LookupRefresh(%s).UserDisabled = %v, want %v", tt.name, got, tt.want)
			}
			var got bool
			err := s.Refresh.UseRefresh(t.Context(), tt.hash, func(st idp.RefreshState) (idp.RefreshUpdate, error) {
				got = st.UserDisabled
				return idp.RefreshUpdate{}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("UseRefresh(%s): UserDisabled = %v, want %v", tt.name, got, tt.want)
			}
		}
	})

	changes := []struct {
		name   string
		change func(t *testing.T, h Stores, name string) error
	}{
		{"SetPassword", func(t *testing.T, h Stores, name string) error {
			return h.Users.SetPassword(t.Context(), name, "changed", at(time.Second))
		}},
		{"SetUserDisabled", func(t *testing.T, h Stores, name string) error {
			return h.Users.SetUserDisabled(t.Context(), name, true, at(time.Second))
		}},
	}
	for _, ch := range changes {
		t.Run(ch.name+"RacesSignIn", func(t *testing.T) {
			// A sign-in read version 0, then creates a family and a session
			// while the change commits: released together, 20 times over,
			// on two connections where the store has them. Whichever wins,
			// nothing of the sign-in is left live.
			s := open(t)
			hs := handles(t, s)
			mustCreateClient(t, s, "c1")
			for i := range 20 {
				id, name := fmt.Sprint("u", i), fmt.Sprint("user", i)
				mustCreateUser(t, s, id, name, "h")
				f, tok := family(fmt.Sprint("f", i), "c1", id)
				se := session(fmt.Sprint("s", i), id)
				var famErr, seErr, chErr error
				parallel(3, hs, func(j int, h Stores) {
					switch j {
					case 0:
						famErr = h.Refresh.CreateFamily(t.Context(), f, tok)
					case 1:
						seErr = h.Sessions.CreateSession(t.Context(), se)
					default:
						chErr = ch.change(t, h, name)
					}
				})
				if chErr != nil {
					t.Fatalf("round %d: %s: %v", i, ch.name, chErr)
				}
				if famErr == nil {
					if st := mustLookup(t, s, tok.Hash); st.Family.RevokedAt.IsZero() {
						t.Errorf("round %d: the family created before %s committed is live", i, ch.name)
					}
				} else {
					wantErr(t, fmt.Sprintf("round %d: CreateFamily", i), famErr, idp.ErrRevoked)
				}
				if seErr != nil {
					wantErr(t, fmt.Sprintf("round %d: CreateSession", i), seErr, idp.ErrNotFound)
				}
				if _, err := s.Sessions.SessionByHash(t.Context(), se.Hash, base); err == nil {
					t.Errorf("round %d: the session created around %s is live", i, ch.name)
				}
			}
		})
	}
}
