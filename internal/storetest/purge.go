package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// purgeBacklog is more expired families than any store deletes in one
// purge transaction, so that a purge must run several batches.
const purgeBacklog = 1100

// TestPurge checks PurgeRefresh on a backlog larger than one batch, with
// several purges running at once from every handle: each expired family is
// deleted exactly once (the counts add up to the backlog), every token of
// an expired family goes with it, and nothing live is touched.
func TestPurge(t *testing.T, open Open) {
	s := open(t)
	mustCreateClient(t, s, "c1")
	var (
		wg      sync.WaitGroup
		created atomic.Int64
		errs    = make(chan error, 8)
	)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < purgeBacklog; i += 8 {
				id := fmt.Sprintf("gone-%04d", i)
				f, tok := family(id, "c1", fmt.Sprintf("u%d", i%50))
				f.ExpiresAt = at(-time.Duration(i+1) * time.Second)
				if err := s.Refresh.CreateFamily(t.Context(), f, tok); err != nil {
					errs <- err
					return
				}
				created.Add(1)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("CreateFamily: %v", err)
	}
	// A spent token and its successor in the oldest family and in a live one.
	child := func(parent idp.RefreshToken, name string) idp.RefreshToken {
		c := idp.RefreshToken{Hash: hashOf(name), FamilyID: parent.FamilyID, Parent: parent.Hash, IssuedAt: base}
		mustUse(t, s, parent.Hash, idp.RefreshUpdate{SpendToken: base, Issue: &c})
		return c
	}
	_, oldest := family(fmt.Sprintf("gone-%04d", purgeBacklog-1), "c1", "")
	oldChild := child(oldest, "old child")
	var live [][]byte
	for i := range 3 {
		_, tok := mustCreateFamily(t, s, fmt.Sprintf("live-%d", i), "c1", "u1")
		live = append(live, tok.Hash, child(tok, fmt.Sprintf("live child %d", i)).Hash)
	}

	var total atomic.Int64
	for _, h := range handles(t, s) {
		for range 3 {
			wg.Go(func() {
				n, err := h.Refresh.PurgeRefresh(t.Context(), base)
				if err != nil {
					t.Errorf("PurgeRefresh: %v", err)
				}
				total.Add(int64(n))
			})
		}
	}
	wg.Wait()
	// A purge that found another running may have returned before the
	// other finished; one more after all of them sweeps up nothing.
	n, err := s.Refresh.PurgeRefresh(t.Context(), base)
	if err != nil {
		t.Fatalf("last PurgeRefresh: %v", err)
	}
	if got := total.Load() + int64(n); got != purgeBacklog {
		t.Errorf("purges deleted %d families in all, want %d", got, purgeBacklog)
	}
	for _, h := range [][]byte{oldest.Hash, oldChild.Hash, hashOf("token gone-0000")} {
		if _, err := s.Refresh.LookupRefresh(t.Context(), h); err == nil {
			t.Errorf("a token of an expired family survived the purge")
		}
	}
	for _, h := range live {
		if _, err := s.Refresh.LookupRefresh(t.Context(), h); err != nil {
			t.Errorf("a live token is gone after the purge: %v", err)
		}
	}
}
