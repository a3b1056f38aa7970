package idp

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// TestSignQueueFirstComeFirstServed: signers beyond the slots wait, and get
// their turn in the order they came.
func TestSignQueueFirstComeFirstServed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newSignQueue(2)
		q.acquire()
		q.acquire() // both slots taken
		var (
			mu    sync.Mutex
			order []int
		)
		for i := range 5 {
			go func() {
				q.acquire()
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
			}()
			synctest.Wait() // goroutine i is queued before i+1 starts
		}
		for range 5 {
			q.release()
			synctest.Wait()
		}
		if want := []int{0, 1, 2, 3, 4}; !slices.Equal(order, want) {
			t.Errorf("slots went to %v, want %v", order, want)
		}
	})
}

// TestSignQueueBoundsABurst: however many requests sign at once, no more
// than the slots run the signature together, and all of them finish.
func TestSignQueueBoundsABurst(t *testing.T) {
	const slots, burst = 3, 200
	q := newSignQueue(slots)
	var running, peak, done atomic.Int64
	var start, wg sync.WaitGroup
	start.Add(1)
	for range burst {
		wg.Go(func() {
			start.Wait()
			q.acquire()
			n := running.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			running.Add(-1)
			q.release()
			done.Add(1)
		})
	}
	start.Done()
	wg.Wait()
	if p := peak.Load(); p > slots || p < 1 {
		t.Errorf("peak concurrent signers %d, want 1..%d", p, slots)
	}
	if n := done.Load(); n != burst {
		t.Errorf("%d of %d signers finished", n, burst)
	}
}
