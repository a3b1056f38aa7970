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

	t.Run("ConcurrentMixedKeys", func(t *testing.T) {
		// Many calls at once from one handle, as a busy replica makes them:
		// new keys, live records, expired records and one key sent four
		// times, each call with its own now.
		s := open(t)
		for i := range 8 {
			for _, k := range []struct {
				name string
				exp  time.Duration
			}{{"live", time.Hour}, {"expired", time.Second}} {
				if ok, err := s.Replay.UseOnce(t.Context(), hashOf(k.name+string(rune('a'+i))), at(k.exp), base); err != nil || !ok {
					t.Fatalf("setup: UseOnce = %v, %v", ok, err)
				}
			}
		}
		type call struct {
			key  string
			want int32 // wins expected among the calls with this key
		}
		var calls []call
		for i := range 8 {
			r := string(rune('a' + i))
			calls = append(calls, call{"new" + r, 1}, call{"live" + r, 0}, call{"expired" + r, 1})
			for range 4 {
				calls = append(calls, call{"dup" + r, 1})
			}
		}
		wins := make(map[string]*atomic.Int32)
		for _, c := range calls {
			wins[c.key] = new(atomic.Int32)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, c := range calls {
			wg.Go(func() {
				<-start
				now := at(time.Minute + time.Duration(i)*time.Microsecond)
				ok, err := s.Replay.UseOnce(t.Context(), hashOf(c.key), at(2*time.Minute), now)
				if err != nil {
					t.Errorf("UseOnce(%s): %v", c.key, err)
				}
				if ok {
					wins[c.key].Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		for _, c := range calls {
			if n := wins[c.key].Load(); n != c.want {
				t.Errorf("%s: %d wins, want %d", c.key, n, c.want)
			}
		}
	})
}
