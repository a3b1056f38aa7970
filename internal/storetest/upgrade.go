package storetest

import (
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// CheckUpgradedChain checks a family migrated from a store that kept every
// token's parent: first and second are spent, live (second's child) is not.
// The upgrade must keep every decision the same: live is second's successor
// (a retry within the reuse interval finds it), first has none (its child
// is spent), and live rotates like any token, after which second has no
// successor either.
func CheckUpgradedChain(t *testing.T, s idp.RefreshStore, first, second, live []byte) {
	t.Helper()
	look := func(hash []byte) idp.RefreshState {
		t.Helper()
		st, err := s.LookupRefresh(t.Context(), hash)
		if err != nil {
			t.Fatalf("LookupRefresh(%x): %v", hash, err)
		}
		return st
	}
	if st := look(live); st.Successor != nil || !st.Token.SpentAt.IsZero() {
		t.Errorf("live token after the upgrade: %+v, want unspent without a successor", st)
	}
	if st := look(second); st.Successor == nil || string(st.Successor.Hash) != string(live) ||
		string(st.Successor.Parent) != string(second) || st.Token.SpentAt.IsZero() {
		t.Errorf("live token's parent after the upgrade: %+v, want spent with the live token as its successor", st)
	}
	if st := look(first); st.Successor != nil || st.Token.SpentAt.IsZero() {
		t.Errorf("first token after the upgrade: %+v, want spent without a successor", st)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	next := idp.RefreshToken{Hash: []byte("next after the upgrade"), Parent: live, IssuedAt: now}
	err := s.UseRefresh(t.Context(), live, func(idp.RefreshState) (idp.RefreshUpdate, error) {
		return idp.RefreshUpdate{SpendToken: now, Issue: &next}, nil
	})
	if err != nil {
		t.Fatalf("UseRefresh of the live token: %v", err)
	}
	if st := look(live); st.Successor == nil || string(st.Successor.Hash) != string(next.Hash) {
		t.Errorf("live token after rotating it: %+v, want the new token as its successor", st)
	}
	if st := look(second); st.Successor != nil {
		t.Errorf("its parent after the rotation: %+v, want no successor (the child is spent)", st)
	}
}
