package postgres_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/pgtest"
)

// TestReplayQueuedCallerLeaves: while one replay-cache statement is in
// flight (held on a row lock by another transaction), a caller whose
// context ends leaves the queue at once without recording its key, and the
// callers still queued are answered by the next statement.
func TestReplayQueuedCallerLeaves(t *testing.T) {
	url := pgtest.NewDatabase(t)
	s := open(t, url)
	now := time.Now().UTC().Truncate(time.Microsecond)
	exp := now.Add(time.Minute)
	key := func(name string) []byte { h := sha256.Sum256([]byte(name)); return h[:] }

	tx := holdInTx(t, url, `INSERT INTO used_jtis (key, expires_at) VALUES ($1, $2)`, key("held"), exp)

	type result struct {
		ok  bool
		err error
	}
	use := func(ctx context.Context, name string) chan result {
		ch := make(chan result, 1)
		go func() {
			ok, err := s.UseOnce(ctx, key(name), exp, now)
			ch <- result{ok, err}
		}()
		return ch
	}
	wait := func(ch chan result, what string) result {
		t.Helper()
		select {
		case r := <-ch:
			return r
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no answer", what)
			return result{}
		}
	}

	held := use(t.Context(), "held")
	awaitLockWaiter(t, url)
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if r := wait(use(cancelled, "left"), "cancelled caller"); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled caller = %v, %v; want context.Canceled", r.ok, r.err)
	}
	queued := use(t.Context(), "queued")

	if err := tx.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := wait(held, "held caller"); !r.ok || r.err != nil {
		t.Errorf("held caller = %v, %v; want true (the blocking insert rolled back)", r.ok, r.err)
	}
	if r := wait(queued, "queued caller"); !r.ok || r.err != nil {
		t.Errorf("queued caller = %v, %v; want true", r.ok, r.err)
	}
	if ok, err := s.UseOnce(t.Context(), key("left"), exp, now); !ok || err != nil {
		t.Errorf("the cancelled caller's key = %v, %v; want true: it was never recorded", ok, err)
	}
}

// TestReplayBurstWithCancellations: a burst of callers, every other one
// giving up at some moment of the burst (queued, leading or in flight), all
// return, and every caller that stayed gets its fresh key recorded: no
// batch is lost with a caller that left.
func TestReplayBurstWithCancellations(t *testing.T) {
	s := open(t, pgtest.NewDatabase(t))
	now := time.Now().UTC().Truncate(time.Microsecond)
	exp := now.Add(time.Minute)
	for round := range 20 {
		var wg sync.WaitGroup
		start := make(chan struct{})
		stayed := make([]bool, 64)
		for i := range 64 {
			ctx, cancel := context.WithCancel(t.Context())
			wg.Go(func() {
				defer cancel()
				<-start
				if i%2 == 1 { // leaves after 0 to 2 ms, spread over the burst
					time.AfterFunc(time.Duration(i*31)*time.Microsecond, cancel)
				}
				key := sha256.Sum256(fmt.Appendf(nil, "burst-%d-%d", round, i))
				ok, err := s.UseOnce(ctx, key[:], exp, now)
				switch {
				case err == nil:
					stayed[i] = ok
					if !ok {
						t.Errorf("round %d caller %d: a new key was refused", round, i)
					}
				case i%2 == 0 || !errors.Is(err, context.Canceled):
					t.Errorf("round %d caller %d: %v", round, i, err)
				}
			})
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		close(start)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: callers did not all return", round)
		}
		for i := 0; i < 64; i += 2 {
			if !stayed[i] {
				t.Errorf("round %d caller %d: not answered true", round, i)
			}
		}
	}
}
