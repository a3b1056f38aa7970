package storetest

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// TestSessionCode checks idp.CodeStore.CreateSessionCode and ExchangeCode
// without decide.
func TestSessionCode(t *testing.T, open Open) {
	t.Run("Create", func(t *testing.T) {
		s := open(t)
		signInFixture(t, s)
		se := session("s1", "u1")
		c := code("c1", "web", "ignored", "ignored")
		c.AuthTime, c.AMR = at(-time.Hour), []string{"ignored"}
		got, err := s.Codes.CreateSessionCode(t.Context(), se.Hash, at(time.Second), c)
		if err != nil {
			t.Fatalf("CreateSessionCode: %v", err)
		}
		diff(t, "session", se, got)
		want := code("c1", "web", "u1", "s1")
		want.AuthTime, want.AMR = se.AuthTime, se.AMR
		want.RedeemedAt = at(2 * time.Second)
		redeemed, err := s.Codes.RedeemCode(t.Context(), c.Hash, "web", at(2*time.Second))
		if err != nil {
			t.Fatalf("RedeemCode: %v", err)
		}
		diff(t, "code, with the session's fields", want, redeemed)
	})

	t.Run("Refused", func(t *testing.T) {
		for _, tt := range []struct {
			name    string
			hash    []byte
			client  string
			now     time.Time
			prepare func(t *testing.T, s Stores)
		}{
			{name: "unknown session", hash: hashOf("nope"), client: "web", now: base},
			{name: "ended session", client: "web", now: base, prepare: func(t *testing.T, s Stores) {
				if err := s.Sessions.EndSession(t.Context(), "s1", idp.ReasonLogout, base); err != nil {
					t.Fatal(err)
				}
			}},
			{name: "idle session", client: "web", now: at(time.Hour)},
			{name: "disabled user", client: "web", now: base, prepare: func(t *testing.T, s Stores) {
				if err := s.Users.SetUserDisabled(t.Context(), "alice", true, base); err != nil {
					t.Fatal(err)
				}
			}},
			{name: "unknown client", client: "nobody", now: base},
		} {
			t.Run(tt.name, func(t *testing.T) {
				s := open(t)
				signInFixture(t, s)
				if tt.prepare != nil {
					tt.prepare(t, s)
				}
				hash := tt.hash
				if hash == nil {
					hash = session("s1", "u1").Hash
				}
				c := code("c1", tt.client, "u1", "s1")
				_, err := s.Codes.CreateSessionCode(t.Context(), hash, tt.now, c)
				wantErr(t, "CreateSessionCode", err, idp.ErrNotFound)
				_, err = s.Codes.RedeemCode(t.Context(), c.Hash, tt.client, base)
				wantErr(t, "RedeemCode of a refused code", err, idp.ErrNotFound)
			})
		}
	})

	// A code is never left live for a session that has ended: a burst of
	// code creations races the end of their session.
	t.Run("RaceWithEndSession", func(t *testing.T) {
		s := open(t)
		signInFixture(t, s)
		hs := handles(t, s)
		for round := range 4 {
			sid := fmt.Sprint("race ", round)
			se := mustCreateSession(t, s, sid, "u1")
			const n = 8
			var created atomic.Int32
			parallel(n+1, hs, func(i int, h Stores) {
				if i == n {
					if err := h.Sessions.EndSession(t.Context(), sid, idp.ReasonLogout, base); err != nil {
						t.Error(err)
					}
					return
				}
				c := code(fmt.Sprintf("%s %d", sid, i), "web", "u1", sid)
				_, err := h.Codes.CreateSessionCode(t.Context(), se.Hash, base, c)
				switch {
				case err == nil:
					created.Add(1)
				case !errors.Is(err, idp.ErrNotFound):
					t.Errorf("CreateSessionCode: %v", err)
				}
			})
			for i := range n {
				c := code(fmt.Sprintf("%s %d", sid, i), "web", "u1", sid)
				if _, err := s.Codes.RedeemCode(t.Context(), c.Hash, "web", base); err == nil {
					t.Errorf("round %d: code %d is live after its session ended (%d created)", round, i, created.Load())
				}
			}
		}
	})

	t.Run("ExchangeWithoutDecide", func(t *testing.T) {
		s := open(t)
		signInFixture(t, s)
		c := mustCreateCode(t, s, "c1", "web", "u1", "s1")
		got, err := s.Codes.ExchangeCode(t.Context(), c.Hash, "web", at(time.Second), nil)
		if err != nil {
			t.Fatal(err)
		}
		want := c
		want.RedeemedAt = at(time.Second)
		diff(t, "exchanged code", want, got)
		_, err = s.Codes.ExchangeCode(t.Context(), c.Hash, "web", at(2*time.Second), nil)
		wantErr(t, "replay", err, idp.ErrCodeReused)
		_, err = s.Codes.ExchangeCode(t.Context(), hashOf("nope"), "web", base, nil)
		wantErr(t, "unknown", err, idp.ErrNotFound)
		expired := mustCreateCode(t, s, "c2", "web", "u1", "s1")
		_, err = s.Codes.ExchangeCode(t.Context(), expired.Hash, "web", at(time.Hour), nil)
		wantErr(t, "expired", err, idp.ErrCodeExpired)
	})
}
