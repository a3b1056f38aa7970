package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// TestSessionStore checks idp.SessionStore.
func TestSessionStore(t *testing.T, open Open) {
	t.Run("CreateAndLookup", func(t *testing.T) {
		s := open(t)
		mustCreateUser(t, s, "u1", "alice", "h1")
		full := session("s1", "u1")
		full.AMR = []string{"pwd", "mfa"}
		bare := session("s2", "u1")
		bare.AMR = nil
		bare.IdleExpiresAt = bare.ExpiresAt // allowed: equal
		for _, se := range []idp.Session{full, bare} {
			t.Run(se.ID, func(t *testing.T) {
				if err := s.Sessions.CreateSession(t.Context(), se); err != nil {
					t.Fatalf("CreateSession: %v", err)
				}
				got, err := s.Sessions.SessionByHash(t.Context(), se.Hash, base)
				if err != nil {
					t.Fatalf("SessionByHash: %v", err)
				}
				diff(t, "session", se, got)
				for _, tm := range []time.Time{got.AuthTime, got.CreatedAt, got.LastSeenAt, got.IdleExpiresAt, got.ExpiresAt} {
					if tm.Location() != time.UTC {
						t.Errorf("time in %v, want UTC", tm.Location())
					}
				}
			})
		}
	})

	t.Run("CreateRefused", func(t *testing.T) {
		s := open(t)
		mustCreateUser(t, s, "u1", "alice", "h1")
		orig := mustCreateSession(t, s, "s1", "u1")
		sameID := session("s1", "u1")
		sameID.Hash = hashOf("another cookie")
		sameHash := session("s2", "u1")
		sameHash.Hash = orig.Hash
		wantErr(t, "CreateSession(same ID)", s.Sessions.CreateSession(t.Context(), sameID), idp.ErrConflict)
		wantErr(t, "CreateSession(same hash)", s.Sessions.CreateSession(t.Context(), sameHash), idp.ErrConflict)
		wantErr(t, "CreateSession(unknown user)", s.Sessions.CreateSession(t.Context(), session("s3", "nobody")), idp.ErrNotFound)
		mustCreateUser(t, s, "u2", "bob", "h2")
		if err := s.Users.SetUserDisabled(t.Context(), "bob", true, base); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "CreateSession(disabled user)", s.Sessions.CreateSession(t.Context(), session("s5", "u2")), idp.ErrNotFound)
		beyond := session("s4", "u1")
		beyond.IdleExpiresAt = beyond.ExpiresAt.Add(time.Microsecond)
		if err := s.Sessions.CreateSession(t.Context(), beyond); err == nil {
			t.Error("CreateSession with the idle expiry after the absolute one succeeded")
		}
		_, err := s.Sessions.SessionByHash(t.Context(), sameID.Hash, base)
		wantErr(t, "SessionByHash(refused session)", err, idp.ErrNotFound)
		got, err := s.Sessions.SessionByHash(t.Context(), orig.Hash, base)
		if err != nil {
			t.Fatal(err)
		}
		diff(t, "the first session after conflicts", orig, got)
	})

	t.Run("LookupOnlyLive", func(t *testing.T) {
		s := open(t)
		mustCreateUser(t, s, "u1", "alice", "h1")
		se := mustCreateSession(t, s, "s1", "u1") // idle until +1h
		capped := session("s2", "u1")
		capped.IdleExpiresAt, capped.ExpiresAt = at(2*time.Hour), at(2*time.Hour)
		if err := s.Sessions.CreateSession(t.Context(), capped); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			hash []byte
			now  time.Time
			live bool
		}{
			{"fresh", se.Hash, base, true},
			{"just before idle expiry", se.Hash, at(time.Hour - time.Microsecond), true},
			{"at idle expiry", se.Hash, at(time.Hour), false},
			{"after idle expiry", se.Hash, at(3 * time.Hour), false},
			{"before created (clock skew)", se.Hash, at(-time.Hour), true},
			{"just before absolute expiry", capped.Hash, at(2*time.Hour - time.Microsecond), true},
			{"at absolute expiry", capped.Hash, at(2 * time.Hour), false},
			{"unknown", hashOf("nobody's cookie"), base, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := s.Sessions.SessionByHash(t.Context(), tt.hash, tt.now)
				if tt.live && err != nil {
					t.Errorf("SessionByHash: %v, want the session", err)
				}
				if !tt.live {
					wantErr(t, "SessionByHash", err, idp.ErrNotFound)
				}
			})
		}
	})

	t.Run("Touch", func(t *testing.T) {
		tests := []struct {
			name      string
			now, idle time.Time
			wantErr   error
			wantIdle  time.Time
			wantSeen  time.Time
		}{
			{"extends", at(30 * time.Minute), at(90 * time.Minute), nil, at(90 * time.Minute), at(30 * time.Minute)},
			{"capped at absolute expiry", at(30 * time.Minute), at(48 * time.Hour), nil, at(24 * time.Hour), at(30 * time.Minute)},
			{"never shortens", at(30 * time.Minute), at(10 * time.Minute), nil, at(time.Hour), at(30 * time.Minute)},
			{"expired is not revived", at(time.Hour), at(3 * time.Hour), idp.ErrNotFound, at(time.Hour), base},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := open(t)
				mustCreateUser(t, s, "u1", "alice", "h1")
				se := mustCreateSession(t, s, "s1", "u1")
				err := s.Sessions.TouchSession(t.Context(), "s1", tt.now, tt.idle)
				if tt.wantErr != nil {
					wantErr(t, "TouchSession", err, tt.wantErr)
				} else if err != nil {
					t.Fatalf("TouchSession: %v", err)
				}
				// Read it back at a time it is certainly live, if it is.
				got, err := s.Sessions.SessionByHash(t.Context(), se.Hash, tt.now.Add(-time.Minute))
				if err != nil {
					t.Fatalf("SessionByHash: %v", err)
				}
				se.IdleExpiresAt, se.LastSeenAt = tt.wantIdle, tt.wantSeen
				diff(t, "session after touch", se, got)
			})
		}
		s := open(t)
		wantErr(t, "TouchSession(unknown)", s.Sessions.TouchSession(t.Context(), "nope", base, at(time.Hour)), idp.ErrNotFound)
	})

	t.Run("ConcurrentTouches", func(t *testing.T) {
		s := open(t)
		mustCreateUser(t, s, "u1", "alice", "h1")
		se := mustCreateSession(t, s, "s1", "u1")
		const n = 20
		parallel(n, handles(t, s), func(i int, h Stores) {
			d := time.Duration(i+1) * time.Minute
			if err := h.Sessions.TouchSession(t.Context(), "s1", at(d), at(time.Hour+d)); err != nil {
				t.Errorf("TouchSession %d: %v", i, err)
			}
		})
		got, err := s.Sessions.SessionByHash(t.Context(), se.Hash, base)
		if err != nil {
			t.Fatal(err)
		}
		se.IdleExpiresAt, se.LastSeenAt = at(time.Hour+n*time.Minute), at(n*time.Minute)
		diff(t, "session after concurrent touches (the latest wins, whatever the order)", se, got)
	})

	t.Run("EndSession", func(t *testing.T) {
		s := open(t)
		signInFixture(t, s)
		mustCreateSession(t, s, "s2", "u1")
		inSession := mustCodeFamily(t, s, "f-code", mustCreateCode(t, s, "c1", "web", "u1", "s1"))
		inSession2 := mustSessionFamily(t, s, "f-s1", "web", "u1", "s1")
		otherSession := mustSessionFamily(t, s, "f-s2", "web", "u1", "s2")
		_, noSession := mustCreateFamily(t, s, "f-password", "web", "u1")
		pending := mustCreateCode(t, s, "c2", "web", "u1", "s1")
		otherCode := mustCreateCode(t, s, "c3", "web", "u1", "s2")

		if err := s.Sessions.EndSession(t.Context(), "s1", idp.ReasonLogout, at(time.Minute)); err != nil {
			t.Fatalf("EndSession: %v", err)
		}
		_, err := s.Sessions.SessionByHash(t.Context(), hashOf("session s1"), base)
		wantErr(t, "SessionByHash(ended)", err, idp.ErrNotFound)
		if _, err := s.Sessions.SessionByHash(t.Context(), hashOf("session s2"), base); err != nil {
			t.Errorf("the other session: %v", err)
		}
		checkRevoked(t, s, inSession.Hash, at(time.Minute), idp.ReasonLogout)
		checkRevoked(t, s, inSession2.Hash, at(time.Minute), idp.ReasonLogout)
		checkLive(t, s, otherSession.Hash)
		checkLive(t, s, noSession.Hash)
		_, err = s.Codes.RedeemCode(t.Context(), pending.Hash, "web", base)
		wantErr(t, "RedeemCode(code of the ended session)", err, idp.ErrRevoked)
		mustRedeem(t, s, otherCode, base)

		// Idempotent, and the first revocation stays.
		if err := s.Sessions.EndSession(t.Context(), "s1", "admin", at(time.Hour)); err != nil {
			t.Errorf("EndSession again: %v", err)
		}
		checkRevoked(t, s, inSession.Hash, at(time.Minute), idp.ReasonLogout)
		// A session that is gone (purged, say) still takes its families with it.
		ghost := mustSessionFamily(t, s, "f-ghost", "web", "u1", "ghost")
		if err := s.Sessions.EndSession(t.Context(), "ghost", idp.ReasonLogout, at(time.Hour)); err != nil {
			t.Errorf("EndSession(unknown): %v", err)
		}
		checkRevoked(t, s, ghost.Hash, at(time.Hour), idp.ReasonLogout)
		// The empty ID names no session, whatever families lack one.
		if err := s.Sessions.EndSession(t.Context(), "", idp.ReasonLogout, at(time.Hour)); err != nil {
			t.Errorf(`EndSession(""): %v`, err)
		}
		checkLive(t, s, noSession.Hash)
	})

	t.Run("EndUserSessions", func(t *testing.T) {
		s := open(t)
		signInFixture(t, s)
		mustCreateUser(t, s, "u2", "bob", "h2")
		mustCreateSession(t, s, "s2", "u1")
		mustCreateSession(t, s, "s3", "u2")
		f1 := mustSessionFamily(t, s, "f1", "web", "u1", "s1")
		f2 := mustSessionFamily(t, s, "f2", "web", "u1", "s2")
		f3 := mustSessionFamily(t, s, "f3", "web", "u2", "s3")
		_, pw := mustCreateFamily(t, s, "f-password", "web", "u1")

		n, err := s.Sessions.EndUserSessions(t.Context(), "u1", "signed out everywhere", at(time.Minute))
		if err != nil || n != 2 {
			t.Fatalf("EndUserSessions = %d, %v; want 2, nil", n, err)
		}
		for _, id := range []string{"s1", "s2"} {
			_, err := s.Sessions.SessionByHash(t.Context(), hashOf("session "+id), base)
			wantErr(t, "SessionByHash("+id+")", err, idp.ErrNotFound)
		}
		if _, err := s.Sessions.SessionByHash(t.Context(), hashOf("session s3"), base); err != nil {
			t.Errorf("the other user's session: %v", err)
		}
		checkRevoked(t, s, f1.Hash, at(time.Minute), "signed out everywhere")
		checkRevoked(t, s, f2.Hash, at(time.Minute), "signed out everywhere")
		checkLive(t, s, f3.Hash)
		checkLive(t, s, pw.Hash) // not created in a session
		if n, err := s.Sessions.EndUserSessions(t.Context(), "u1", "again", at(time.Hour)); err != nil || n != 0 {
			t.Errorf("EndUserSessions again = %d, %v; want 0, nil", n, err)
		}
	})

	t.Run("UserChangesEndSessions", func(t *testing.T) {
		tests := []struct {
			name   string
			change func(Stores) error
		}{
			{"disable", func(s Stores) error { return s.Users.SetUserDisabled(t.Context(), "alice", true, at(time.Minute)) }},
			{"set password", func(s Stores) error { return s.Users.SetPassword(t.Context(), "alice", "h1-new", at(time.Minute)) }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := open(t)
				signInFixture(t, s)
				mustCreateUser(t, s, "u2", "bob", "h2")
				other := mustCreateSession(t, s, "s2", "u2")
				pending := mustCreateCode(t, s, "c1", "web", "u1", "s1")
				otherCode := mustCreateCode(t, s, "c2", "web", "u2", "s2")
				if err := tt.change(s); err != nil {
					t.Fatal(err)
				}
				_, err := s.Sessions.SessionByHash(t.Context(), hashOf("session s1"), base)
				wantErr(t, "SessionByHash(the user's session)", err, idp.ErrNotFound)
				if _, err := s.Sessions.SessionByHash(t.Context(), other.Hash, base); err != nil {
					t.Errorf("another user's session: %v", err)
				}
				_, err = s.Codes.RedeemCode(t.Context(), pending.Hash, "web", base)
				wantErr(t, "RedeemCode(the user's code)", err, idp.ErrRevoked)
				mustRedeem(t, s, otherCode, base)
			})
		}
		t.Run("enable ends nothing", func(t *testing.T) {
			s := open(t)
			signInFixture(t, s)
			if err := s.Users.SetUserDisabled(t.Context(), "alice", false, at(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Sessions.SessionByHash(t.Context(), hashOf("session s1"), base); err != nil {
				t.Errorf("session after enabling: %v", err)
			}
		})
	})

	t.Run("DisableRacesSignIn", func(t *testing.T) {
		// A sign-in finishing while the user is disabled: whichever commits
		// first, no session or code of the user is left usable.
		s := open(t)
		mustCreateClient(t, s, "web")
		hs := handles(t, s)
		for round := range 20 {
			id, name := fmt.Sprint("u", round), fmt.Sprint("user", round)
			mustCreateUser(t, s, id, name, "h")
			se := session(fmt.Sprint("s", round), id)
			c := code(fmt.Sprint("c", round), "web", id, se.ID)
			parallel(3, hs, func(i int, h Stores) {
				var err error
				switch i {
				case 0:
					err = h.Users.SetUserDisabled(t.Context(), name, true, at(time.Second))
				case 1:
					if err = h.Sessions.CreateSession(t.Context(), se); errors.Is(err, idp.ErrNotFound) {
						err = nil
					}
				case 2:
					if err = h.Codes.CreateCode(t.Context(), c); errors.Is(err, idp.ErrNotFound) {
						err = nil
					}
				}
				if err != nil {
					t.Errorf("round %d, call %d: %v", round, i, err)
				}
			})
			_, err := s.Sessions.SessionByHash(t.Context(), se.Hash, base)
			wantErr(t, fmt.Sprintf("round %d: SessionByHash", round), err, idp.ErrNotFound)
			if _, err := s.Codes.RedeemCode(t.Context(), c.Hash, "web", base); !errors.Is(err, idp.ErrNotFound) && !errors.Is(err, idp.ErrRevoked) {
				t.Errorf("round %d: RedeemCode = %v, want ErrNotFound (refused) or ErrRevoked", round, err)
			}
		}
	})

	t.Run("PurgeSessions", func(t *testing.T) {
		s := open(t)
		mustCreateClient(t, s, "web")
		mustCreateUser(t, s, "u1", "alice", "h1")
		idle := map[string]time.Duration{"long-gone": -time.Hour, "just-gone": -time.Microsecond, "at-cutoff": 0, "live": time.Hour}
		for id, d := range idle {
			se := session(id, "u1")
			se.CreatedAt, se.LastSeenAt, se.AuthTime = at(-2*time.Hour), at(-2*time.Hour), at(-2*time.Hour)
			se.IdleExpiresAt = at(d)
			if err := s.Sessions.CreateSession(t.Context(), se); err != nil {
				t.Fatal(err)
			}
		}
		fam := mustSessionFamily(t, s, "f1", "web", "u1", "long-gone")
		n, err := s.Sessions.PurgeSessions(t.Context(), base)
		if err != nil || n != 2 {
			t.Fatalf("PurgeSessions = %d, %v; want 2, nil", n, err)
		}
		for id := range idle {
			_, err := s.Sessions.SessionByHash(t.Context(), hashOf("session "+id), at(-3*time.Hour))
			if gone := id == "long-gone" || id == "just-gone"; gone {
				wantErr(t, "SessionByHash("+id+")", err, idp.ErrNotFound)
			} else if err != nil {
				t.Errorf("%s: %v, want it kept", id, err)
			}
		}
		checkLive(t, s, fam.Hash) // expiry is not logout
		if n, err := s.Sessions.PurgeSessions(t.Context(), base); err != nil || n != 0 {
			t.Errorf("second PurgeSessions = %d, %v; want 0, nil", n, err)
		}
	})

	t.Run("EndRacesRefresh", func(t *testing.T) {
		// Logout while the session's refresh tokens rotate: however the
		// calls interleave, every family ends revoked, tokens issued in the
		// race included.
		s := open(t)
		signInFixture(t, s)
		const n = 16
		first := make([][]byte, n)
		for i := range n {
			first[i] = mustSessionFamily(t, s, fmt.Sprint("f", i), "web", "u1", "s1").Hash
		}
		latest := make([][]byte, n)
		parallel(n+1, handles(t, s), func(i int, h Stores) {
			if i == n {
				if err := h.Sessions.EndSession(t.Context(), "s1", idp.ReasonLogout, at(time.Second)); err != nil {
					t.Errorf("EndSession: %v", err)
				}
				return
			}
			latest[i] = rotate(t, h, first[i], fmt.Sprint("f", i, " next"), at(time.Second))
		})
		for i := range n {
			for _, h := range [][]byte{first[i], latest[i]} {
				if f := mustLookup(t, s, h).Family; f.RevokedAt.IsZero() {
					t.Errorf("family %s is live after the session ended", f.ID)
				}
			}
		}
	})

	t.Run("EndRacesCodeExchange", func(t *testing.T) {
		// Logout while a code of the session is exchanged: either the
		// exchange fails, or its family ends revoked; never a live family.
		s := open(t)
		mustCreateClient(t, s, "web")
		mustCreateUser(t, s, "u1", "alice", "h1")
		hs := handles(t, s)
		for round := range 20 {
			sid := fmt.Sprint("s", round)
			mustCreateSession(t, s, sid, "u1")
			c := mustCreateCode(t, s, sid, "web", "u1", sid)
			f, tok := codeFamily(fmt.Sprint("f", round), c)
			var exchangeErr error
			parallel(2, hs, func(i int, h Stores) {
				if i == 1 {
					if err := h.Sessions.EndSession(t.Context(), sid, idp.ReasonLogout, at(time.Second)); err != nil {
						t.Errorf("EndSession: %v", err)
					}
					return
				}
				if _, exchangeErr = h.Codes.RedeemCode(t.Context(), c.Hash, "web", at(time.Second)); exchangeErr == nil {
					exchangeErr = h.Refresh.CreateFamily(t.Context(), f, tok)
				}
			})
			if exchangeErr != nil {
				if !errors.Is(exchangeErr, idp.ErrRevoked) {
					t.Errorf("round %d: exchange failed with %v, want ErrRevoked", round, exchangeErr)
				}
				continue
			}
			checkRevoked(t, s, tok.Hash, at(time.Second), idp.ReasonLogout)
		}
	})
}
