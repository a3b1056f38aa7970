package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestReplayStore checks idp.ReplayStore: single use, expiry, purge, and one
// winner among concurrent uses of a key from several processes.
func TestReplayStore(t *testing.T, open Open) {
	t.Run("SingleUse", func(t *testing.T) {
		s := open(t)
		key := hashOf("dpop|jkt|jti-1")
		for i, want := range []bool{true, false, false} {
			got, err := s.Replay.UseOnce(t.Context(), key, at(time.Minute), at(time.Duration(i)*time.Second))
			if err != nil {
				t.Fatalf("UseOnce #%d: %v", i, err)
			}
			if got != want {
				t.Errorf("UseOnce #%d = %v, want %v", i, got, want)
			}
		}
		if ok, err := s.Replay.UseOnce(t.Context(), hashOf("dpop|jkt|jti-2"), at(time.Minute), base); err != nil || !ok {
			t.Errorf("another key: UseOnce = %v, %v; want true", ok, err)
		}
	})

	t.Run("ExpiredRecordIsNewAgain", func(t *testing.T) {
		s := open(t)
		key := hashOf("assertion|c1|j")
		if ok, _ := s.Replay.UseOnce(t.Context(), key, at(time.Minute), base); !ok {
			t.Fatal("first use refused")
		}
		if ok, _ := s.Replay.UseOnce(t.Context(), key, at(2*time.Minute), at(time.Minute)); ok {
			t.Error("use at the exact expiry accepted; the record lasts until then")
		}
		ok, err := s.Replay.UseOnce(t.Context(), key, at(3*time.Minute), at(time.Minute+time.Microsecond))
		if err != nil || !ok {
			t.Errorf("use after expiry = %v, %v; want true", ok, err)
		}
		if ok, _ := s.Replay.UseOnce(t.Context(), key, at(4*time.Minute), at(2*time.Minute)); ok {
			t.Error("the renewed record did not keep its new expiry")
		}
	})

	t.Run("Purge", func(t *testing.T) {
		s := open(t)
		for i, exp := range []time.Duration{time.Second, 2 * time.Second, time.Hour} {
			if ok, err := s.Replay.UseOnce(t.Context(), hashOf(string(rune('a'+i))), at(exp), base); err != nil || !ok {
				t.Fatalf("UseOnce: %v, %v", ok, err)
			}
		}
		n, err := s.Replay.PurgeReplay(t.Context(), at(time.Minute))
		if err != nil || n != 2 {
			t.Fatalf("PurgeReplay = %d, %v; want 2", n, err)
		}
		if ok, _ := s.Replay.UseOnce(t.Context(), hashOf("c"), at(time.Hour), base); ok {
			t.Error("purge removed a live record")
		}
	})

	t.Run("ConcurrentBurstOneWinner", func(t *testing.T) {
		s := open(t)
		hs := handles(t, s)
		for round := range 5 {
			key := hashOf("burst|" + string(rune('0'+round)))
			var wins atomic.Int32
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range 16 {
				wg.Go(func() {
					<-start
					ok, err := hs[i%len(hs)].Replay.UseOnce(t.Context(), key, at(time.Minute), base)
					if err != nil {
						t.Errorf("UseOnce: %v", err)
					}
					if ok {
						wins.Add(1)
					}
				})
			}
			close(start)
			wg.Wait()
			if n := wins.Load(); n != 1 {
				t.Fatalf("round %d: %d of 16 concurrent uses won, want exactly 1", round, n)
			}
		}
	})
}
