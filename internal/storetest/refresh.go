package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// TestRefreshStore checks idp.RefreshStore.
func TestRefreshStore(t *testing.T, open Open) {
	t.Run("CreateAndLookup", func(t *testing.T) {
		s := open(t)
		mustCreateClient(t, s, "c1")
		tests := []struct {
			name string
			f    idp.Family
		}{
			{"live", idp.Family{ID: "f1", ClientID: "c1", Subject: "u1", Scope: "openid offline_access",
				AuthTime: at(-time.Minute), CreatedAt: base, ExpiresAt: at(720 * time.Hour)}},
			{"created revoked, no scope", idp.Family{ID: "f2", ClientID: "c1", Subject: "u2",
				AuthTime: base, CreatedAt: base, ExpiresAt: at(time.Hour), RevokedAt: at(time.Microsecond), RevokeReason: "test"}},
			{"in a session", idp.Family{ID: "f3", ClientID: "c1", Subject: "u1", Scope: "openid",
				AuthTime: base, CreatedAt: base, ExpiresAt: at(time.Hour), SessionID: "s1"}},
			{"bound to a DPoP key", idp.Family{ID: "f4", ClientID: "c1", Subject: "u1", Scope: "openid",
				AuthTime: base, CreatedAt: base, ExpiresAt: at(time.Hour), JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tok := idp.RefreshToken{Hash: hashOf(tt.f.ID), FamilyID: tt.f.ID, IssuedAt: at(time.Second)}
				if err := s.Refresh.CreateFamily(t.Context(), tt.f, tok); err != nil {
					t.Fatalf("CreateFamily: %v", err)
				}
				got := mustLookup(t, s, tok.Hash)
				diff(t, "state", idp.RefreshState{Family: tt.f, Token: tok}, got)
				if got.Family.ExpiresAt.Location() != time.UTC || got.Token.IssuedAt.Location() != time.UTC {
					t.Error("times are not in UTC")
				}
			})
		}
	})

	t.Run("CreateFamilyConflict", func(t *testing.T) {
		s := open(t)
		mustCreateClient(t, s, "c1")
		_, first := mustCreateFamily(t, s, "f1", "c1", "u1")

		f, tok := family("f1", "c1", "u2")
		tok.Hash = hashOf("fresh")
		wantErr(t, "CreateFamily(same family ID)", s.Refresh.CreateFamily(t.Context(), f, tok), idp.ErrConflict)
		_, err := s.Refresh.LookupRefresh(t.Context(), tok.Hash)
		wantErr(t, "token of the refused family", err, idp.ErrNotFound)

		f, tok = family("f2", "c1", "u2")
		tok.Hash = first.Hash
		wantErr(t, "CreateFamily(same token hash)", s.Refresh.CreateFamily(t.Context(), f, tok), idp.ErrConflict)
		// One transaction: the family must not exist without its token.
		wantErr(t, "RevokeFamily(refused family)", s.Refresh.RevokeFamily(t.Context(), "f2", "x", base), idp.ErrNotFound)
		if got := mustLookup(t, s, first.Hash); got.Family.Subject != "u1" {
			t.Errorf("the refused family replaced the first token's family: %+v", got.Family)
		}
	})

	t.Run("CreateFamilyUnknownClient", func(t *testing.T) {
		s := open(t)
		f, tok := family("f1", "nope", "u1")
		wantErr(t, "CreateFamily", s.Refresh.CreateFamily(t.Context(), f, tok), idp.ErrNotFound)
	})

	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		mustCreateClient(t, s, "c1")
		mustCreateFamily(t, s, "f1", "c1", "u1")
		_, err := s.Refresh.LookupRefresh(t.Context(), hashOf("unknown"))
		wantErr(t, "LookupRefresh", err, idp.ErrNotFound)
		called := false
		err = s.Refresh.UseRefresh(t.Context(), hashOf("unknown"), func(idp.RefreshState) (idp.RefreshUpdate, error) {
			called = true
			return idp.RefreshUpdate{}, nil
		})
		wantErr(t, "UseRefresh", err, idp.ErrNotFound)
		if called {
			t.Error("UseRefresh called fn for an unknown token")
		}
		wantErr(t, "RevokeFamily", s.Refresh.RevokeFamily(t.Context(), "f9", "x", base), idp.ErrNotFound)
	})

	t.Run("UseRefreshRotates", func(t *testing.T) {
		s := open(t)
		mustCreateClient(t, s, "c1")
		f, first := mustCreateFamily(t, s, "f1", "c1", "u1")
		next := idp.RefreshToken{Hash: hashOf("next"), FamilyID: "f1", Parent: first.Hash, IssuedAt: at(time.Minute)}

		var seen idp.RefreshState
		err := s.Refresh.UseRefresh(t.Context(), first.Hash, func(st idp.RefreshState) (idp.RefreshUpdate, error) {
			seen = st
			return idp.RefreshUpdate{SpendToken: at(time.Minute), Issue: &next}, nil
		})
		if err != nil {
			t.Fatalf("UseRefresh: %v", err)
		}
		diff(t, "state shown to fn", idp.RefreshState{Family: f, Token: first}, seen)

		spent := first
		spent.SpentAt = at(time.Minute)
		diff(t, "first token after rotation", idp.RefreshState{Family: f, Token: spent, Successor: &next}, mustLookup(t, s, first.Hash))
		// A token's own parent is not reported: only a successor's is.
		diff(t, "next token", idp.RefreshState{Family: f, Token: unparented(next)}, mustLookup(t, s, next.Hash))

		// Later calls see the successor: this is how reuse is detected.
		err = s.Refresh.UseRefresh(t.Context(), first.Hash, func(st idp.RefreshState) (idp.RefreshUpdate, error) {
			seen = st
			return idp.RefreshUpdate{SpendSuccessor: at(2 * time.Minute), RevokeAt: at(2 * time.Minute), RevokeReason: "reuse"}, nil
		})
		if err != nil {
			t.Fatalf("UseRefresh (reuse): %v", err)
		}
		diff(t, "state shown to fn on reuse", idp.RefreshState{Family: f, Token: spent, Successor: &next}, seen)
		revoked := f
		revoked.RevokedAt, revoked.RevokeReason = at(2*time.Minute), "reuse"
		spentNext := next
		spentNext.SpentAt = at(2 * time.Minute)
		diff(t, "next token after reuse", idp.RefreshState{Family: revoked, Token: unparented(spentNext)}, mustLookup(t, s, next.Hash))
	})

	t.Run("SuccessorIsTheLatestChild", func(t *testing.T) {
		// Within the reuse interval a retry spends the successor and issues
		// another child of the same token; the newer child is the successor.
		s := open(t)
		mustCreateClient(t, s, "c1")
		_, first := mustCreateFamily(t, s, "f1", "c1", "u1")
		a := idp.RefreshToken{Hash: hashOf("a"), FamilyID: "f1", Parent: first.Hash, IssuedAt: at(time.Second)}
		b := idp.RefreshToken{Hash: hashOf("b"), FamilyID: "f1", Parent: first.Hash, IssuedAt: at(time.Second)} // same instant
		mustUse(t, s, first.Hash, idp.RefreshUpdate{SpendToken: at(time.Second), Issue: &a})
		mustUse(t, s, first.Hash, idp.RefreshUpdate{SpendSuccessor: at(time.Second), Issue: &b})
		got := mustLookup(t, s, first.Hash).Successor
		diff(t, "successor", &b, got)
		a.SpentAt = at(time.Second)
		diff(t, "first child", unparented(a), mustLookup(t, s, a.Hash).Token)
	})

	t.Run("FnErrorAppliesNothing", func(t *testing.T) {
		s := open(t)
		mustCreateClient(t, s, "c1")
		_, first := mustCreateFamily(t, s, "f1", "c1", "u1")
		before := mustLookup(t, s, first.Hash)
		errRules := errors.New("rules say no")
		next := idp.RefreshToken{Hash: hashOf("next"), FamilyID: "f1", Parent: first.Hash, IssuedAt: at(time.Minute)}
		err := s.Refresh.UseRefresh(t.Context(), first.Hash, func(idp.RefreshState) (idp.RefreshUpdate, error) {
			return idp.RefreshUpdate{SpendToken: at(time.Minute), Issue: &next, RevokeAt: at(time.Minute), RevokeReason: "x"}, errRules
		})
		if err != errRules {
			t.Errorf("UseRefresh returned %v, want fn's error unchanged", err)
		}
		diff(t, "state after fn error", before, mustLookup(t, s, first.Hash))
		_, err = s.Refresh.LookupRefresh(t.Context(), next.Hash)
		wantErr(t, "LookupRefresh(token fn wanted issued)", err, idp.ErrNotFound)
	})

	t.Run("FailedUpdateAppliesNothing", func(t *testing.T) {
		s := open(t)
		mustCreateClient(t, s, "c1")
		_, first := mustCreateFamily(t, s, "f1", "c1", "u1")
		_, taken := mustCreateFamily(t, s, "f2", "c1", "u1")
		before := mustLookup(t, s, first.Hash)
		dup := idp.RefreshToken{Hash: taken.Hash, FamilyID: "f1", Parent: first.Hash, IssuedAt: at(time.Minute)}
		err := s.Refresh.UseRefresh(t.Context(), first.Hash, func(idp.RefreshState) (idp.RefreshUpdate, error) {
			return idp.RefreshUpdate{SpendToken: at(time.Minute), Issue: &dup, RevokeAt: at(time.Minute), RevokeReason: "x"}, nil
		})
		wantErr(t, "UseRefresh issuing an existing hash", err, idp.ErrConflict)
		diff(t, "state after failed update", before, mustLookup(t, s, first.Hash))
	})

	t.Run("FirstSpendAndRevocationStick", func(t *testing.T) {
		s := open(t)
		mustCreateClient(t, s, "c1")
		_, first := mustCreateFamily(t, s, "f1", "c1", "u1")
		mustUse(t, s, first.Hash, idp.RefreshUpdate{SpendToken: at(time.Minute), RevokeAt: at(time.Minute), RevokeReason: "first"})
		mustUse(t, s, first.Hash, idp.RefreshUpdate{SpendToken: at(time.Hour), RevokeAt: at(time.Hour), RevokeReason: "second"})
		st := mustLookup(t, s, first.Hash)
		if !st.Token.SpentAt.Equal(at(time.Minute)) {
			t.Errorf("SpentAt = %v, want the first spend %v", st.Token.SpentAt, at(time.Minute))
		}
		checkRevoked(t, s, first.Hash, at(time.Minute), "first")
	})

	t.Run("ZeroUpdateChangesNothing", func(t *testing.T) {
		s := open(t)
		mustCreateClient(t, s, "c1")
		_, first := mustCreateFamily(t, s, "f1", "c1", "u1")
		before := mustLookup(t, s, first.Hash)
		mustUse(t, s, first.Hash, idp.RefreshUpdate{RevokeReason: "ignored without RevokeAt"})
		diff(t, "state", before, mustLookup(t, s, first.Hash))
	})

	t.Run("SingleUseUnderConcurrency", func(t *testing.T) {
		// The refresh rules in miniature: rotate an unspent token, revoke the
		// family on reuse. However the calls interleave, exactly one rotates.
		s := open(t)
		mustCreateClient(t, s, "c1")
		_, first := mustCreateFamily(t, s, "f1", "c1", "u1")
		const n = 20
		issued := make([]bool, n) // per goroutine: did its last fn call issue?
		parallel(n, handles(t, s), func(i int, h Stores) {
			next := idp.RefreshToken{Hash: hashOf(fmt.Sprint("next", i)), FamilyID: "f1", Parent: first.Hash, IssuedAt: at(time.Minute)}
			err := h.Refresh.UseRefresh(t.Context(), first.Hash, func(st idp.RefreshState) (idp.RefreshUpdate, error) {
				if st.Token.SpentAt.IsZero() {
					issued[i] = true
					return idp.RefreshUpdate{SpendToken: at(time.Minute), Issue: &next}, nil
				}
				issued[i] = false
				// Whoever spent the token issued its successor in the same
				// transaction: a state without one was read before that
				// transaction committed, under a lock not yet held.
				if st.Successor == nil || string(st.Successor.Parent) != string(first.Hash) {
					t.Errorf("goroutine %d saw the token spent but successor %+v", i, st.Successor)
				}
				return idp.RefreshUpdate{RevokeAt: at(time.Minute), RevokeReason: "reuse"}, nil
			})
			if err != nil {
				t.Errorf("goroutine %d: UseRefresh: %v", i, err)
			}
		})
		winners := 0
		var winner []byte
		for i, ok := range issued {
			if ok {
				winners++
				winner = hashOf(fmt.Sprint("next", i))
			}
		}
		if winners != 1 {
			t.Fatalf("%d calls issued a successor, want exactly 1", winners)
		}
		st := mustLookup(t, s, first.Hash)
		if st.Successor == nil || string(st.Successor.Hash) != string(winner) {
			t.Errorf("successor = %+v, want the winner's token", st.Successor)
		}
		checkRevoked(t, s, first.Hash, at(time.Minute), "reuse")
		for i, ok := range issued {
			if ok {
				continue
			}
			if _, err := s.Refresh.LookupRefresh(t.Context(), hashOf(fmt.Sprint("next", i))); !errors.Is(err, idp.ErrNotFound) {
				t.Errorf("goroutine %d's token: err = %v, want ErrNotFound (it must not have been issued)", i, err)
			}
		}
	})

	t.Run("RevokeFamilyKeepsFirst", func(t *testing.T) {
		s := open(t)
		mustCreateClient(t, s, "c1")
		_, first := mustCreateFamily(t, s, "f1", "c1", "u1")
		if err := s.Refresh.RevokeFamily(t.Context(), "f1", "logout", at(time.Minute)); err != nil {
			t.Fatalf("RevokeFamily: %v", err)
		}
		if err := s.Refresh.RevokeFamily(t.Context(), "f1", "admin", at(time.Hour)); err != nil {
			t.Fatalf("RevokeFamily again: %v", err)
		}
		checkRevoked(t, s, first.Hash, at(time.Minute), "logout")
		mustUse(t, s, first.Hash, idp.RefreshUpdate{RevokeAt: at(2 * time.Hour), RevokeReason: "reuse"})
		checkRevoked(t, s, first.Hash, at(time.Minute), "logout")
	})

	t.Run("LookupDoesNotLockOrChange", func(t *testing.T) {
		s := open(t)
		mustCreateClient(t, s, "c1")
		_, first := mustCreateFamily(t, s, "f1", "c1", "u1")
		before := mustLookup(t, s, first.Hash)
		next := idp.RefreshToken{Hash: hashOf("next"), FamilyID: "f1", Parent: first.Hash, IssuedAt: at(time.Minute)}
		err := s.Refresh.UseRefresh(t.Context(), first.Hash, func(idp.RefreshState) (idp.RefreshUpdate, error) {
			// The family is locked now; a lookup must neither wait for
			// that lock nor see the uncommitted update.
			got, err := s.Refresh.LookupRefresh(withTimeout(t, 5*time.Second), first.Hash)
			if err != nil {
				t.Errorf("LookupRefresh while the family is locked: %v", err)
			}
			diff(t, "lookup while locked", before, got)
			return idp.RefreshUpdate{SpendToken: at(time.Minute), Issue: &next}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		after := mustLookup(t, s, first.Hash)
		diff(t, "repeated lookups", after, mustLookup(t, s, first.Hash))
	})

	t.Run("PurgeRefresh", func(t *testing.T) {
		s := open(t)
		mustCreateClient(t, s, "c1")
		expiries := map[string]time.Duration{
			"long-gone":   -time.Hour,
			"just-gone":   -time.Microsecond,
			"at-cutoff":   0, // not expired *before* the cutoff
			"still-valid": time.Hour,
		}
		tokens := map[string][]byte{}
		for id, d := range expiries {
			f, tok := family(id, "c1", "u1")
			f.ExpiresAt = at(d)
			if err := s.Refresh.CreateFamily(t.Context(), f, tok); err != nil {
				t.Fatal(err)
			}
			tokens[id] = tok.Hash
		}
		// A rotated token must go with its family.
		child := idp.RefreshToken{Hash: hashOf("child"), FamilyID: "long-gone", Parent: tokens["long-gone"], IssuedAt: base}
		mustUse(t, s, tokens["long-gone"], idp.RefreshUpdate{SpendToken: base, Issue: &child})
		tokens["long-gone child"] = child.Hash

		n, err := s.Refresh.PurgeRefresh(t.Context(), base)
		if err != nil {
			t.Fatalf("PurgeRefresh: %v", err)
		}
		if n != 2 {
			t.Errorf("PurgeRefresh deleted %d families, want 2", n)
		}
		for id, h := range tokens {
			_, err := s.Refresh.LookupRefresh(t.Context(), h)
			gone := id == "long-gone" || id == "just-gone" || id == "long-gone child"
			if gone && !errors.Is(err, idp.ErrNotFound) {
				t.Errorf("%s: err = %v, want ErrNotFound after purge", id, err)
			}
			if !gone && err != nil {
				t.Errorf("%s: err = %v, want it kept", id, err)
			}
		}
		if n, err := s.Refresh.PurgeRefresh(t.Context(), base); err != nil || n != 0 {
			t.Errorf("second PurgeRefresh = %d, %v; want 0, nil", n, err)
		}
	})
}

// unparented is tok as a lookup reports it: without its parent, which a
// store keeps only to find the successor of that parent.
func unparented(tok idp.RefreshToken) idp.RefreshToken {
	tok.Parent = nil
	return tok
}

func mustUse(t *testing.T, s Stores, hash []byte, u idp.RefreshUpdate) {
	t.Helper()
	err := s.Refresh.UseRefresh(t.Context(), hash, func(idp.RefreshState) (idp.RefreshUpdate, error) { return u, nil })
	if err != nil {
		t.Fatalf("UseRefresh: %v", err)
	}
}
