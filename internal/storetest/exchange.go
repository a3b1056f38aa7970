package storetest

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// TestCodeExchange checks idp.CodeStore.ExchangeCode: redemption and the
// family in one transaction.
func TestCodeExchange(t *testing.T, open Open) {
	// exchange returns a decide that asks for a family named id, counting
	// its calls.
	exchange := func(id string, calls *atomic.Int32) func(idp.AuthCode) (idp.CodeExchange, error) {
		return func(c idp.AuthCode) (idp.CodeExchange, error) {
			calls.Add(1)
			f, tok := family(id, "ignored", "ignored")
			f.SessionID, f.CodeHash = "ignored", []byte("ignored")
			return idp.CodeExchange{Family: &f, First: &tok}, nil
		}
	}

	t.Run("Family", func(t *testing.T) {
		s := open(t)
		signInFixture(t, s)
		c := mustCreateCode(t, s, "c1", "web", "u1", "s1")
		var calls atomic.Int32
		got, err := s.Codes.ExchangeCode(t.Context(), c.Hash, "web", at(time.Second), exchange("f1", &calls))
		if err != nil || calls.Load() != 1 {
			t.Fatalf("ExchangeCode: %v (%d decide calls)", err, calls.Load())
		}
		want := c
		want.RedeemedAt = at(time.Second)
		diff(t, "exchanged code", want, got)
		// The family is the code's: client, subject, session and code hash
		// come from the code, whatever decide said.
		_, tok := family("f1", "", "")
		st := mustLookup(t, s, tok.Hash)
		wantFam, _ := family("f1", "web", "u1")
		wantFam.SessionID, wantFam.CodeHash = "s1", c.Hash
		diff(t, "family", wantFam, st.Family)
		// A replay: refused, decide not called, and the family revoked.
		calls.Store(0)
		_, err = s.Codes.ExchangeCode(t.Context(), c.Hash, "web", at(2*time.Second), exchange("f2", &calls))
		wantErr(t, "replay", err, idp.ErrCodeReused)
		if calls.Load() != 0 {
			t.Error("decide ran for a replay")
		}
		if st := mustLookup(t, s, tok.Hash); st.Family.RevokedAt.IsZero() || st.Family.RevokeReason != idp.ReasonCodeReuse {
			t.Errorf("after the replay the family is %+v, want revoked for code reuse", st.Family)
		}
	})

	t.Run("DecideRefuses", func(t *testing.T) {
		s := open(t)
		signInFixture(t, s)
		c := mustCreateCode(t, s, "c1", "web", "u1", "s1")
		errPKCE := errors.New("verifier does not match")
		_, err := s.Codes.ExchangeCode(t.Context(), c.Hash, "web", base, func(idp.AuthCode) (idp.CodeExchange, error) {
			f, tok := family("f1", "web", "u1")
			return idp.CodeExchange{Family: &f, First: &tok}, errPKCE
		})
		if err != errPKCE {
			t.Fatalf("ExchangeCode = %v, want decide's error unchanged", err)
		}
		_, tok := family("f1", "", "")
		if _, err := s.Refresh.LookupRefresh(t.Context(), tok.Hash); !errors.Is(err, idp.ErrNotFound) {
			t.Errorf("a refused exchange created its family: %v", err)
		}
		// The code is used up.
		_, err = s.Codes.RedeemCode(t.Context(), c.Hash, "web", base)
		wantErr(t, "redeem after a refused exchange", err, idp.ErrCodeReused)
	})

	t.Run("NoFamily", func(t *testing.T) {
		s := open(t)
		signInFixture(t, s)
		c := mustCreateCode(t, s, "c1", "web", "u1", "s1")
		if _, err := s.Codes.ExchangeCode(t.Context(), c.Hash, "web", base, func(idp.AuthCode) (idp.CodeExchange, error) {
			return idp.CodeExchange{}, nil
		}); err != nil {
			t.Fatal(err)
		}
		_, err := s.Codes.RedeemCode(t.Context(), c.Hash, "web", base)
		wantErr(t, "redeem after an exchange", err, idp.ErrCodeReused)
	})

	t.Run("Refusals", func(t *testing.T) {
		for _, tt := range []struct {
			name    string
			client  string
			now     time.Time
			prepare func(Stores)
			want    error
		}{
			{"unknown code", "web", base, func(s Stores) {}, idp.ErrNotFound},
			{"another client's", "other", base, nil, idp.ErrNotFound},
			{"expired", "web", at(time.Minute), nil, idp.ErrCodeExpired},
			{"session ended", "web", base, func(s Stores) {
				if err := s.Sessions.EndSession(t.Context(), "s1", idp.ReasonLogout, base); err != nil {
					t.Fatal(err)
				}
			}, idp.ErrRevoked},
		} {
			t.Run(tt.name, func(t *testing.T) {
				s := open(t)
				signInFixture(t, s)
				mustCreateClient(t, s, "other")
				c := code("c1", "web", "u1", "s1")
				if tt.name != "unknown code" {
					c = mustCreateCode(t, s, "c1", "web", "u1", "s1")
				}
				if tt.prepare != nil {
					tt.prepare(s)
				}
				var calls atomic.Int32
				_, err := s.Codes.ExchangeCode(t.Context(), c.Hash, tt.client, tt.now, exchange("f1", &calls))
				wantErr(t, "ExchangeCode", err, tt.want)
				if calls.Load() != 0 {
					t.Error("decide ran for a refused code")
				}
				if tt.name == "another client's" {
					// Not burned: its own client can still use it.
					mustRedeem(t, s, c, base)
				}
			})
		}
	})

	t.Run("ConcurrentBurst", func(t *testing.T) {
		s := open(t)
		signInFixture(t, s)
		hs := handles(t, s)
		for round := range 3 {
			c := mustCreateCode(t, s, fmt.Sprint("burst ", round), "web", "u1", "s1")
			const n = 12
			var ok, reused atomic.Int32
			parallel(n, hs, func(i int, h Stores) {
				var calls atomic.Int32
				_, err := h.Codes.ExchangeCode(t.Context(), c.Hash, "web", base, exchange(fmt.Sprintf("f%d-%d", round, i), &calls))
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, idp.ErrCodeReused):
					reused.Add(1)
				default:
					t.Errorf("ExchangeCode: %v", err)
				}
			})
			if ok.Load() != 1 || reused.Load() != n-1 {
				t.Fatalf("round %d: %d exchanges succeeded and %d were replays, want 1 and %d", round, ok.Load(), reused.Load(), n-1)
			}
			// Every family of the code is revoked: the replays came after.
			for i := range n {
				_, tok := family(fmt.Sprintf("f%d-%d", round, i), "", "")
				st, err := s.Refresh.LookupRefresh(t.Context(), tok.Hash)
				if err == nil && st.Family.RevokedAt.IsZero() {
					t.Errorf("round %d: family %d is live after the replays", round, i)
				}
			}
		}
	})

	t.Run("RaceWithEndSession", func(t *testing.T) {
		s := open(t)
		signInFixture(t, s)
		hs := handles(t, s)
		for round := range 5 {
			sid := fmt.Sprint("race ", round)
			mustCreateSession(t, s, sid, "u1")
			c := mustCreateCode(t, s, sid, "web", "u1", sid)
			var calls atomic.Int32
			parallel(2, hs, func(i int, h Stores) {
				if i == 0 {
					_, _ = h.Codes.ExchangeCode(t.Context(), c.Hash, "web", base, exchange(sid, &calls))
				} else if err := h.Sessions.EndSession(t.Context(), sid, idp.ReasonLogout, base); err != nil {
					t.Error(err)
				}
			})
			_, tok := family(sid, "", "")
			if st, err := s.Refresh.LookupRefresh(t.Context(), tok.Hash); err == nil && st.Family.RevokedAt.IsZero() {
				t.Errorf("round %d: a family outlived the end of its session", round)
			}
		}
	})
}
