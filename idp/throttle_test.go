package idp

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestTableRefill(t *testing.T) {
	tb := newTable(3, 30*time.Second, 100) // one token back every 10s
	n := t0.UnixNano()
	for i := range 3 {
		if w := tb.wait(1, n); w != 0 {
			t.Fatalf("attempt %d throttled for %v", i, w)
		}
		tb.charge(1, 1, n)
	}
	for _, tt := range []struct {
		name  string
		key   uint64
		after time.Duration
		want  time.Duration
	}{
		{"after the burst", 1, 0, 10 * time.Second},
		{"another key", 2, 0, 0},
		{"4s later", 1, 4 * time.Second, 6 * time.Second},
		{"one token back", 1, 10 * time.Second, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if w := tb.wait(tt.key, n+int64(tt.after)); w != tt.want {
				t.Errorf("wait = %v, want %v", w, tt.want)
			}
		})
	}
	for range 3 {
		tb.refund(1, 1, n)
	}
	if _, tracked := tb.index[1]; tracked {
		t.Error("a bucket refunded back to full is still tracked")
	}
}

// keysOf lists the keys a table tracks, sorted.
func keysOf(tb *table) []uint64 {
	var out []uint64
	for k := range tb.index {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestThrottleEvictionOrder is issue 11, finding 7: a full table forgets the
// bucket nearest to full first (a full one carries no information at all),
// and never one that is limiting; with only limiting buckets left, a new key
// is refused rather than tracked at someone's expense.
func TestThrottleEvictionOrder(t *testing.T) {
	const sec = int64(time.Second)
	tb := newTable(3, 30*time.Second, 4) // a token every 10s; limiting beyond 20s of debt
	n := t0.UnixNano()
	tb.charge(1, 1, n)       // full again at +10s
	tb.charge(2, 2, n)       // +20s
	tb.charge(3, 3, n)       // +30s: limiting until +10s, then partly drained
	tb.charge(4, 1, n+5*sec) // +15s
	now := n + 11*sec        // 1 is full, 4 owes 4s, 2 owes 9s, 3 owes 19s
	for _, tt := range []struct {
		name    string
		newKey  uint64
		evicted uint64
	}{
		{"a full bucket goes first", 10, 1},
		{"then the one nearest to full", 11, 4},
		{"then the next nearest", 12, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := keysOf(tb)
			if w := tb.wait(tt.newKey, now); w != 0 {
				t.Fatalf("new key must wait %v", w)
			}
			tb.charge(tt.newKey, 3, now) // drained: limiting until now+10s
			want := append(slices.DeleteFunc(before, func(k uint64) bool { return k == tt.evicted }), tt.newKey)
			slices.Sort(want)
			if diff := cmp.Diff(want, keysOf(tb)); diff != "" {
				t.Errorf("tracked keys (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("a limiting bucket is never evicted", func(t *testing.T) {
		tb.charge(3, 1, now) // 3 owes 29s: limiting; so are 10, 11 and 12
		before := keysOf(tb)
		w := tb.wait(13, now)
		if w <= 0 {
			t.Fatal("a new key is admitted although every tracked bucket is limiting")
		}
		if !slices.Equal(before, keysOf(tb)) {
			t.Fatal("wait changed the table")
		}
		// The wait is until the root stops limiting: 10, 11 and 12 owe 30s
		// since now, 3 owes 29s, so 3 is below the 20s limit after 9s.
		if w != 9*time.Second {
			t.Errorf("new key waits %v, want 9s", w)
		}
		if w := tb.wait(13, now+int64(w)); w != 0 {
			t.Errorf("after the wait, still %v", w)
		}
	})
}

// TestTableMatchesModel drives a table and a plain map of refill instants
// with the same random charges, refunds and clock steps: the heap must give
// the same answers and keep its order.
func TestTableMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tb := newTable(4, 40*time.Second, 1<<20) // no eviction: the model has none
	model := map[uint64]int64{}
	now := t0.UnixNano()
	for i := range 20000 {
		k := uint64(rng.IntN(50))
		switch op := rng.IntN(10); {
		case op < 5:
			if tb.wait(k, now) == 0 {
				n := 1 + rng.IntN(4)
				tb.charge(k, n, now)
				model[k] = max(model[k], now) + int64(n)*tb.perToken
			}
		case op < 7:
			n := 1 + rng.IntN(4)
			tb.refund(k, n, now)
			if f, ok := model[k]; ok {
				model[k] = f - int64(n)*tb.perToken
			}
		default:
			now += rng.Int64N(int64(15 * time.Second))
		}
		for mk := range model {
			if model[mk] <= now { // full: the same as no bucket
				delete(model, mk)
			}
		}
		want := time.Duration(max(0, model[k]-now-tb.maxDebt()))
		if got := tb.wait(k, now); got != want {
			t.Fatalf("step %d: wait(%d) = %v, model says %v", i, k, got, want)
		}
		for j := 1; j < len(tb.heap); j++ {
			if tb.heap[(j-1)/2].full > tb.heap[j].full || tb.index[tb.heap[j].key] != j {
				t.Fatalf("step %d: heap broken at %d", i, j)
			}
		}
	}
}

// TestThrottleFloodKeepsLimitingBuckets: many goroutines spray fresh keys at
// a small table while a victim's bucket is limiting. The table never grows
// past its bound and the victim's bucket survives.
func TestThrottleFloodKeepsLimitingBuckets(t *testing.T) {
	cfg := ThrottleConfig{AccountBurst: 5, AddressBurst: 50, AccountCeiling: 50, Window: time.Minute, MaxTrackedKey: 64}.withDefaults()
	th := newThrottle(cfg)
	attacker := netip.MustParseAddr("192.0.2.1")
	for range 5 {
		if _, w := th.take("victim", attacker, t0); w != 0 {
			t.Fatalf("throttled too early: %v", w)
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				addr := netip.AddrFrom4([4]byte{10, byte(g), byte(i >> 8), byte(i)})
				th.take(fmt.Sprintf("spray-%d-%d", g, i), addr, t0.Add(time.Duration(i)*time.Millisecond))
			}
		})
	}
	wg.Wait()
	th.mu.Lock()
	sizes := []int{len(th.pair.heap), len(th.address.heap), len(th.account.heap)}
	th.mu.Unlock()
	for _, n := range sizes {
		if n > cfg.MaxTrackedKey {
			t.Errorf("a table holds %d keys, bound is %d", n, cfg.MaxTrackedKey)
		}
	}
	if _, w := th.take("victim", attacker, t0.Add(time.Second)); w == 0 {
		t.Error("the flood flushed the victim's limiting bucket")
	}
}

// TestThrottleTakeIsAtomic is finding 1 at the unit level: N goroutines at
// one bucket get exactly its burst, however they interleave.
func TestThrottleTakeIsAtomic(t *testing.T) {
	th := newThrottle(ThrottleConfig{AccountBurst: 10, Window: time.Hour}.withDefaults())
	addr := netip.MustParseAddr("192.0.2.1")
	var admitted atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 200 {
		wg.Go(func() {
			<-start
			if _, w := th.take("alice", addr, t0); w == 0 {
				admitted.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := admitted.Load(); n != 10 {
		t.Errorf("%d attempts admitted, burst is 10", n)
	}
}

// TestThrottlePolicy walks the policy SECURITY.md describes, on one clock.
func TestThrottlePolicy(t *testing.T) {
	cfg := ThrottleConfig{AccountBurst: 3, AddressBurst: 100, AccountCeiling: 6, Window: time.Hour}.withDefaults()
	th := newThrottle(cfg)
	ip := func(i byte) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, i}) }
	take := func(name string, from netip.Addr, at time.Duration) (attempt, time.Duration) {
		return th.take(name, from, t0.Add(at))
	}
	// One address exhausts its account+address bucket...
	for range 3 {
		if _, w := take("alice", ip(1), 0); w != 0 {
			t.Fatal("throttled within the burst")
		}
	}
	if _, w := take("Alice", ip(1), 0); w != 20*time.Minute {
		t.Fatalf("4th attempt (other case) waits %v, want 20m", w)
	}
	// ...which does not touch another address.
	if _, w := take("alice", ip(2), 0); w != 0 {
		t.Fatalf("another address is throttled: %v", w)
	}
	// A second and third address use up the ceiling (6): the account is
	// under attack, and a fresh address pays a whole burst per failure.
	take("alice", ip(2), 0)
	take("alice", ip(3), 0)
	take("alice", ip(3), 0)
	a, w := take("alice", ip(4), 0)
	if w != 0 || a.ceiling || a.pairCost != 3 {
		t.Fatalf("under attack: wait %v, ceiling %v, cost %d; want 0, false, 3", w, a.ceiling, a.pairCost)
	}
	if _, w := take("alice", ip(4), time.Minute); w != 19*time.Minute {
		t.Errorf("second guess from a fresh address under attack waits %v, want 19m", w)
	}
	// The owner from an address that has not been failing gets in, and the
	// attempt is given back in full.
	owner, w := take("alice", ip(9), 0)
	if w != 0 {
		t.Fatalf("the owner is refused: %v", w)
	}
	th.giveBack(owner, t0)
	if _, w := take("alice", ip(9), 0); w != 0 {
		t.Errorf("after a successful login the owner waits %v", w)
	}
	// The ceiling refills: a token every 10 minutes ends the slow mode.
	if a, _ := take("alice", ip(10), 10*time.Minute); !a.ceiling || a.pairCost != 1 {
		t.Errorf("after the ceiling refilled: ceiling %v, cost %d", a.ceiling, a.pairCost)
	}
}

func TestAddressBlock(t *testing.T) {
	tests := map[string]string{
		"192.0.2.7":                 "192.0.2.7/32",
		"2001:db8:1:2:3:4:5:6":      "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":      "2001:db8:1:2::/64",
		"::ffff:192.0.2.7":          "192.0.2.7/32",
		"fe80::1%eth0":              "fe80::/64",
		"invalid (zero netip.Addr)": "invalid Prefix",
	}
	for in, want := range tests {
		a, _ := netip.ParseAddr(in)
		if got := addressBlock(a).String(); got != want {
			t.Errorf("addressBlock(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkThrottleTake is the cost of taking an attempt from a throttle
// whose tables are full (100 000 keys each, every take a new key, so every
// take evicts), and the memory a tracked key holds (B/key, heap in use over
// all three tables divided by the keys in one, measured once per run).
//
//	go test -run '^$' -bench BenchmarkThrottleTake ./idp/
func BenchmarkThrottleTake(b *testing.B) {
	const keys = 100_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	th := newThrottle(ThrottleConfig{MaxTrackedKey: keys}.withDefaults())
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}) }
	for i := range keys {
		th.take("user"+strconv.Itoa(i), addr(i), t0)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	names := make([]string, 1024)
	for i := range names {
		names[i] = "spray" + strconv.Itoa(i)
	}
	b.ResetTimer()
	for i := range b.N {
		th.take(names[i%len(names)], addr(keys+i), t0.Add(time.Duration(i)))
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/keys, "B/key")
}
