package sqlite_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
	seeder "github.com/rotor-idp/rotor/internal/seed"
	"github.com/rotor-idp/rotor/sql/sqlite"
)

// BenchmarkUseRefreshSeeded is BenchmarkUseRefresh on a store seeded with
// ROTOR_BENCH_SEED_TOKENS refresh tokens (default 100 000; 100 000 users),
// and reports x-empty: its time per rotation over the same rotation's on an
// empty store, measured in the same run in alternating rounds.
func BenchmarkUseRefreshSeeded(b *testing.B) {
	tokens := 100_000
	if v, err := strconv.Atoi(os.Getenv("ROTOR_BENCH_SEED_TOKENS")); err == nil && v > 0 {
		tokens = v
	}
	dir := b.TempDir()
	spec := seeder.Spec{Users: 100_000, Clients: 10, Families: max(tokens/10, 1), Depth: 10, Expired: 0.3, Revoked: 0.05}
	if _, err := seeder.SQLite(b.Context(), dir, spec, "hash"); err != nil {
		b.Fatal(err)
	}
	seeded, err := sqlite.Open(b.Context(), dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { seeded.Close() })
	first := keyOf("first")
	f := idp.Family{ID: "bench", ClientID: seeder.ClientID(0), Subject: seeder.UserID(0), AuthTime: testTime, CreatedAt: testTime, ExpiresAt: testTime.Add(time.Hour)}
	if err := seeded.CreateFamily(b.Context(), f, idp.RefreshToken{Hash: first, IssuedAt: testTime}); err != nil {
		b.Fatal(err)
	}

	// The two stores rotate in alternating rounds, so that a change in the
	// machine's load weighs on both alike.
	empty, emptyCur := benchStore(b)
	seededCur := first
	const rounds = 10
	var onEmpty, onSeeded time.Duration
	i := 0
	for b.Loop() {
		if i%(max(b.N/rounds, 1)) == 0 {
			onEmpty += timeRotations(b, empty, &emptyCur, "base", i, max(b.N/rounds, 1))
		}
		start := time.Now()
		seededCur = rotate(b, seeded, seededCur, fmt.Sprint("seeded ", i))
		onSeeded += time.Since(start)
		i++
	}
	b.ReportMetric(float64(onSeeded)/float64(onEmpty), "x-empty")
}

// timeRotations rotates n tokens on s from *cur and returns the time taken.
func timeRotations(b *testing.B, s *sqlite.Store, cur *[]byte, name string, from, n int) time.Duration {
	start := time.Now()
	for k := range n {
		*cur = rotate(b, s, *cur, fmt.Sprint(name, " ", from+k))
	}
	return time.Since(start)
}

// keyOf is the store key of a token named name issued now, in Rotor's
// format: keys grow with time, as the seeded ones do.
func keyOf(name string) []byte {
	return idp.RefreshKeyAt(time.Now(), sha256.Sum256([]byte(name)))
}

// rotate spends cur and issues the token named name, returning its key.
func rotate(b *testing.B, s *sqlite.Store, cur []byte, name string) []byte {
	next := keyOf(name)
	err := s.UseRefresh(context.Background(), cur, func(st idp.RefreshState) (idp.RefreshUpdate, error) {
		return idp.RefreshUpdate{SpendToken: testTime, Issue: &idp.RefreshToken{Hash: next, Parent: st.Token.Hash, IssuedAt: testTime}}, nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return next
}
