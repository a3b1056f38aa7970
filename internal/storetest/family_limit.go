package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// TestFamilyLimit checks RefreshStore.LimitFamilies: the oldest live
// families of one user and client go, with the reason and time given;
// revoked and expired families, other clients' and other users' are left
// alone; and concurrent calls together keep exactly the newest ones.
func TestFamilyLimit(t *testing.T, open Open) {
	t.Run("OldestFirst", func(t *testing.T) {
		s := open(t)
		mustCreateClient(t, s, "c1")
		mustCreateClient(t, s, "c2")
		create := func(id, client, subject string, created time.Duration, edit func(*idp.Family)) {
			f, tok := family(id, client, subject)
			f.CreatedAt = at(created)
			if edit != nil {
				edit(&f)
			}
			if err := s.Refresh.CreateFamily(t.Context(), f, tok); err != nil {
				t.Fatalf("CreateFamily(%s): %v", id, err)
			}
		}
		for i := range 5 {
			create(fmt.Sprintf("live-%d", i), "c1", "u1", time.Duration(i)*time.Minute, nil)
		}
		create("revoked", "c1", "u1", -time.Hour, func(f *idp.Family) { f.RevokedAt, f.RevokeReason = base, "test" })
		create("expired", "c1", "u1", -2*time.Hour, func(f *idp.Family) { f.ExpiresAt = at(-time.Second) })
		create("other-client", "c2", "u1", -time.Hour, nil)
		create("other-user", "c1", "u2", -time.Hour, nil)

		now := at(time.Hour)
		n, err := s.Refresh.LimitFamilies(t.Context(), "u1", "c1", 2, now)
		if err != nil || n != 3 {
			t.Fatalf("LimitFamilies = %d, %v; want 3, nil", n, err)
		}
		want := map[string]string{ // family → revoke reason ("" live)
			"live-0": idp.ReasonFamilyLimit, "live-1": idp.ReasonFamilyLimit, "live-2": idp.ReasonFamilyLimit,
			"live-3": "", "live-4": "", "revoked": "test", "expired": "", "other-client": "", "other-user": "",
		}
		for id, reason := range want {
			st := mustLookup(t, s, hashOf("token "+id))
			if st.Family.RevokeReason != reason {
				t.Errorf("%s: revoke reason %q, want %q", id, st.Family.RevokeReason, reason)
			}
			if reason == idp.ReasonFamilyLimit && !st.Family.RevokedAt.Equal(now) {
				t.Errorf("%s: revoked at %v, want %v", id, st.Family.RevokedAt, now)
			}
		}
		if n, err := s.Refresh.LimitFamilies(t.Context(), "u1", "c1", 2, now); err != nil || n != 0 {
			t.Errorf("second LimitFamilies = %d, %v; want 0, nil", n, err)
		}
	})

	t.Run("ConcurrentBurst", func(t *testing.T) {
		s := open(t)
		mustCreateClient(t, s, "c1")
		const families, keep = 24, 5
		hs := handles(t, s)
		var wg sync.WaitGroup
		for i := range families {
			h := hs[i%len(hs)]
			wg.Go(func() {
				f, tok := family(fmt.Sprintf("f-%02d", i), "c1", "u1")
				f.CreatedAt = at(time.Duration(i) * time.Second)
				if err := h.Refresh.CreateFamily(t.Context(), f, tok); err != nil {
					t.Errorf("CreateFamily: %v", err)
					return
				}
				if _, err := h.Refresh.LimitFamilies(t.Context(), "u1", "c1", keep, at(time.Hour)); err != nil {
					t.Errorf("LimitFamilies: %v", err)
				}
			})
		}
		wg.Wait()
		for i := range families {
			st := mustLookup(t, s, hashOf(fmt.Sprintf("token f-%02d", i)))
			if live, want := st.Family.RevokedAt.IsZero(), i >= families-keep; live != want {
				t.Errorf("family %d (of %d, newest %d kept): live = %v", i, families, keep, live)
			}
		}
	})
}
