package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/sql/sqlite"
)

// slowRefreshPurge is the embedded store with a refresh-family purge that
// does not return until released, as one with a backlog of millions does
// not for hours; it reports each used-JWT-id purge it completes.
type slowRefreshPurge struct {
	*sqlite.Store
	release  chan struct{}
	replayed chan int
}

func (s slowRefreshPurge) PurgeRefresh(ctx context.Context, cutoff time.Time) (int, error) {
	<-s.release
	return s.Store.PurgeRefresh(ctx, cutoff)
}

func (s slowRefreshPurge) PurgeReplay(ctx context.Context, cutoff time.Time) (int, error) {
	n, err := s.Store.PurgeReplay(ctx, cutoff)
	s.replayed <- n
	return n, err
}

// TestPurgeBacklogHoldsNothingBack: while the refresh-family purge works
// through a backlog, the other tables are purged all the same (an hour of
// DPoP proofs alone leaves millions of used JWT ids).
func TestPurgeBacklogHoldsNothingBack(t *testing.T) {
	st, err := sqlite.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	key := []byte("a proof's jti, hashed: 32 bytes.")
	if fresh, err := st.UseOnce(t.Context(), key, now.Add(-time.Minute), now.Add(-2*time.Minute)); !fresh || err != nil {
		t.Fatalf("UseOnce: %v, %v", fresh, err)
	}
	slow := slowRefreshPurge{Store: st, release: make(chan struct{}), replayed: make(chan int, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		purgeOnce(t.Context(), slow, now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	defer func() { <-done }()
	defer close(slow.release)
	select {
	case n := <-slow.replayed:
		if n != 1 {
			t.Errorf("purged %d used JWT ids, want the expired one", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("used JWT ids were not purged while the refresh purge was busy")
	}
}
