package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/keys"
	"github.com/rotor-idp/rotor/sql/sqlite"
)

// raceWorkers is how many goroutines each process of TestTwoProcessesRace
// runs, so that the race is within each process as well as between them.
const raceWorkers = 4

// span is a stretch of wall-clock time, comparable across processes.
type span struct{ from, to time.Time }

func (a span) overlaps(b span) bool { return a.from.Before(b.to) && b.from.Before(a.to) }

// raceTokens is one process's first part in TestTwoProcessesRace. Each of
// its goroutines tries to rotate every one of the n first tokens, starting
// at a different one and wrapping around, so that goroutines of both
// processes collide all along; it returns the tokens this process won.
func raceTokens(ctx context.Context, s *sqlite.Store, who string, n int) ([]int, error) {
	offset := 0
	if who == "child" {
		offset = n / (2 * raceWorkers) // between the parent's starting points
	}
	var (
		mu   sync.Mutex
		wins []int
		errs = make([]error, raceWorkers)
		wg   sync.WaitGroup
	)
	for g := range raceWorkers {
		wg.Go(func() {
			for j := range n {
				i := (offset + g*n/raceWorkers + j) % n
				won := false
				err := s.UseRefresh(ctx, raceToken(i), func(st idp.RefreshState) (idp.RefreshUpdate, error) {
					won = st.Token.SpentAt.IsZero()
					if !won {
						return idp.RefreshUpdate{}, nil
					}
					next := idp.RefreshToken{Hash: raceChild(who, i), Parent: st.Token.Hash, IssuedAt: testTime}
					return idp.RefreshUpdate{SpendToken: testTime, Issue: &next}, nil
				})
				if err != nil {
					errs[g] = fmt.Errorf("UseRefresh %d: %w", i, err)
					return
				}
				if won {
					mu.Lock()
					wins = append(wins, i)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return wins, errors.Join(errs...)
}

// raceLanes is the second part: the goroutines add n keys to the EdDSA lane,
// each named after the lane's size. It returns when the process was
// updating the lane, from its first call to the return of its last.
func raceLanes(ctx context.Context, s *sqlite.Store, n int) (span, error) {
	var (
		errs = make([]error, raceWorkers)
		wg   sync.WaitGroup
	)
	when := span{from: time.Now()}
	for g := range raceWorkers {
		wg.Go(func() {
			for range n / raceWorkers {
				err := s.UpdateLane(ctx, keys.EdDSA, func(lane []keys.Record) (keys.Change, error) {
					return keys.Change{Insert: []keys.Record{testKey(fmt.Sprint("k", len(lane)), keys.EdDSA, keys.StateRetired)}}, nil
				})
				if err != nil {
					errs[g] = fmt.Errorf("UpdateLane: %w", err)
					return
				}
			}
		})
	}
	wg.Wait()
	when.to = time.Now()
	return when, errors.Join(errs...)
}

func raceToken(i int) []byte             { return hashOf(fmt.Sprint("race token ", i)) }
func raceChild(who string, i int) []byte { return hashOf(fmt.Sprint("race child ", who, " ", i)) }

// TestTwoProcessesRace runs the same work in this process and another one
// at once on one data directory: both migrate the fresh directory
// together, each token is rotated by exactly one of them, and lane updates
// are serialised across the two (every key name distinct). A round where
// one process happened to finish before the other started tests nothing, so
// the test repeats until a round shows the two overlapped, or fails.
func TestTwoProcessesRace(t *testing.T) {
	const rounds = 5
	for round := range rounds {
		if raceRound(t, round) {
			return
		}
		if t.Failed() {
			return
		}
	}
	t.Fatalf("in %d rounds the two processes never overlapped: the race was not run", rounds)
}

// raceRound is one round of TestTwoProcessesRace on a fresh directory; it
// reports whether the processes overlapped: both won tokens, and both were
// updating the lane at the same time.
func raceRound(t *testing.T, round int) (overlapped bool) {
	const n = 40
	dir := t.TempDir()
	other := startChild(t, "race", dir, fmt.Sprint(helperNEnv, "=", n))
	s := open(t, dir) // migrating alongside the child
	other.expect(t, "opened")

	mustCreateClient(t, s, "c1")
	for i := range n {
		f := idp.Family{ID: fmt.Sprint("f", i), ClientID: "c1", Subject: "u1", AuthTime: testTime, CreatedAt: testTime, ExpiresAt: testTime.Add(time.Hour)}
		if err := s.CreateFamily(t.Context(), f, idp.RefreshToken{Hash: raceToken(i), IssuedAt: testTime}); err != nil {
			t.Fatal(err)
		}
	}

	other.send(t, "go")
	mine, err := raceTokens(t.Context(), s, "parent", n)
	if err != nil {
		t.Fatalf("this process: %v", err)
	}
	theirs := ints(t, other.expect(t, "wins"))
	// Then the lanes, started together.
	other.send(t, "lanes")
	myLanes, err := raceLanes(t.Context(), s, n)
	if err != nil {
		t.Fatalf("this process: %v", err)
	}
	var theirLanes span
	if l := ints(t, other.expect(t, "lanes")); len(l) == 2 {
		theirLanes = span{time.Unix(0, int64(l[0])), time.Unix(0, int64(l[1]))}
	}
	if err := other.exit(t); err != nil {
		t.Fatalf("other process: %v", err)
	}
	parent, child := winners(t, "parent", mine), winners(t, "child", theirs)
	for i := range n {
		winner, loser := "parent", "child"
		if parent[i] == child[i] {
			t.Errorf("token %d: won by parent %v, by child %v; want exactly one", i, parent[i], child[i])
			continue
		}
		if child[i] {
			winner, loser = loser, winner
		}
		st, err := s.LookupRefresh(t.Context(), raceToken(i))
		if err != nil {
			t.Fatal(err)
		}
		if st.Successor == nil || string(st.Successor.Hash) != string(raceChild(winner, i)) {
			t.Errorf("token %d: successor is not the %s's", i, winner)
		}
		if _, err := s.LookupRefresh(t.Context(), raceChild(loser, i)); !errors.Is(err, idp.ErrNotFound) {
			t.Errorf("token %d: the %s's token exists (%v)", i, loser, err)
		}
	}

	ring, err := s.Keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range ring {
		seen[r.KID] = true
	}
	if len(ring) != 2*n {
		t.Errorf("ring has %d keys, want %d", len(ring), 2*n)
	}
	for i := range 2 * n {
		if !seen[fmt.Sprint("k", i)] {
			t.Errorf("key k%d missing: lane updates were not serialised (ring has %d keys)", i, len(ring))
		}
	}
	// Both winning tokens means both were rotating at once: each tries
	// every token, so one that finished first would have won them all.
	lanes := myLanes.overlaps(theirLanes)
	t.Logf("round %d: parent won %d tokens, child %d; lane updates overlapped in time: %v", round, len(parent), len(child), lanes)
	return len(parent) > 0 && len(child) > 0 && lanes
}

// ints parses the numbers of a helper's line.
func ints(t *testing.T, line string) []int {
	t.Helper()
	var out []int
	for _, f := range strings.Fields(line) {
		i, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("other process said %q", line)
		}
		out = append(out, i)
	}
	return out
}

// winners turns a process's wins into a set, failing on a token it won twice.
func winners(t *testing.T, who string, wins []int) map[int]bool {
	t.Helper()
	set := map[int]bool{}
	for _, i := range wins {
		if set[i] {
			t.Errorf("the %s won token %d twice", who, i)
		}
		set[i] = true
	}
	return set
}
