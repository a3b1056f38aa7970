package sqlite_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/keys"
	"github.com/rotor-idp/rotor/sql/sqlite"
)

// Tests that need a real second process re-run this test binary with
// helperEnv set; TestHelperProcess then plays that process's part, talking
// to the parent in lines on stdin and stdout.
const (
	helperEnv    = "ROTOR_SQLITE_TEST_HELPER"
	helperDirEnv = "ROTOR_SQLITE_TEST_DIR"
	helperNEnv   = "ROTOR_SQLITE_TEST_N"
	// linePrefix marks the helper's protocol lines among the test
	// framework's own output.
	linePrefix = "helper: "
	// processDeadline bounds every wait for the other process.
	processDeadline = 30 * time.Second
)

// TestHelperProcess is not a test: it is the second process of the tests
// below, and does nothing unless they started it.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("helper process for other tests")
	}
	dir := os.Getenv(helperDirEnv)
	say := func(format string, args ...any) { fmt.Printf(linePrefix+format+"\n", args...) }
	in := bufio.NewScanner(os.Stdin)
	var err error
	switch mode {
	case "lock":
		var release func() error
		if release, err = sqlite.Lock(dir); err != nil {
			say("error %s", err)
			break
		}
		say("locked %d", os.Getpid())
		for in.Scan() { // hold the lock until stdin closes (or the process is killed)
		}
		err = release()
	case "race":
		var s *sqlite.Store
		if s, err = sqlite.Open(context.Background(), dir); err != nil {
			break
		}
		defer s.Close()
		say("opened")
		if !in.Scan() || in.Text() != "go" {
			err = errors.New("no go from the parent")
			break
		}
		n, _ := strconv.Atoi(os.Getenv(helperNEnv))
		var wins []int
		if wins, err = raceTokens(context.Background(), s, "child", n); err != nil {
			break
		}
		say("wins %s", strings.Trim(fmt.Sprint(wins), "[]"))
		if !in.Scan() || in.Text() != "lanes" {
			err = errors.New("no lanes from the parent")
			break
		}
		var lanes span
		if lanes, err = raceLanes(context.Background(), s, n); err == nil {
			say("lanes %d %d", lanes.from.UnixNano(), lanes.to.UnixNano())
		}
	case "refuse":
		c := refuseCalls(context.Background(), dir)
		say("open %q", c.open)
		say("migrate %q", c.migrate)
		say("lock %q", c.lock)
	default:
		err = fmt.Errorf("unknown helper mode %q", mode)
	}
	if err != nil {
		say("error %s", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// child is a running helper process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // protocol lines, without the prefix; closed at EOF
	done  chan error  // the process's exit
}

func startChild(t *testing.T, mode, dir string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=" + mode, helperDirEnv + "=" + dir}, env...)...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper process: %v", err)
	}
	c := &child{cmd: cmd, stdin: stdin, lines: make(chan string, 16), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), linePrefix); ok {
				c.lines <- line
			}
		}
		close(c.lines)
		c.done <- cmd.Wait() // after stdout is drained, as exec requires
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // no-op if it has exited
		select {
		case <-c.done:
		case <-time.After(processDeadline):
			t.Error("helper process did not exit")
		}
	})
	return c
}

// expect waits for the child's next line and returns what follows word.
func (c *child) expect(t *testing.T, word string) string {
	t.Helper()
	select {
	case line, ok := <-c.lines:
		if !ok {
			t.Fatalf("helper process exited before saying %q", word)
		}
		rest, found := strings.CutPrefix(line, word)
		if !found {
			t.Fatalf("helper process said %q, want %q", line, word)
		}
		return strings.TrimSpace(rest)
	case <-time.After(processDeadline):
		t.Fatalf("helper process did not say %q within %v", word, processDeadline)
	}
	return ""
}

func (c *child) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		t.Fatalf("write to helper process: %v", err)
	}
}

// exit waits for the child to exit and returns its error.
func (c *child) exit(t *testing.T) error {
	t.Helper()
	select {
	case err := <-c.done:
		c.done <- err // for the cleanup
		return err
	case <-time.After(processDeadline):
		t.Fatalf("helper process did not exit within %v", processDeadline)
	}
	return nil
}

func TestLockRefusesSecondProcess(t *testing.T) {
	for _, how := range []string{"exits", "is killed"} {
		t.Run("holder "+how, func(t *testing.T) {
			dir := t.TempDir()
			holder := startChild(t, "lock", dir)
			pid, err := strconv.Atoi(holder.expect(t, "locked"))
			if err != nil || pid != holder.cmd.Process.Pid {
				t.Fatalf("holder says pid %d (%v), want %d", pid, err, holder.cmd.Process.Pid)
			}

			// Another process is refused, by name of the directory and the
			// holder's pid.
			other := startChild(t, "lock", dir)
			want := fmt.Sprintf("data directory %s is in use by another rotor serve process (pid %d)", dir, pid)
			if got := other.expect(t, "error"); got != want {
				t.Errorf("second process: %q\nwant %q", got, want)
			}
			// So is this one, with an error callers can inspect.
			_, err = sqlite.Lock(dir)
			var inUse *sqlite.InUseError
			if !errors.As(err, &inUse) || inUse.PID != pid || inUse.Dir != dir {
				t.Errorf("Lock while held = %#v, want *InUseError{%s, %d}", err, dir, pid)
			}
			// Admin commands do not take the lock: the store opens meanwhile.
			s := open(t, dir)
			if err := s.Ping(t.Context()); err != nil {
				t.Errorf("Ping while the directory is locked: %v", err)
			}

			if how == "exits" {
				holder.stdin.Close()
				if err := holder.exit(t); err != nil {
					t.Fatalf("holder: %v", err)
				}
			} else {
				if err := holder.cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				holder.exit(t) // killed: its error is expected
			}
			release, err := sqlite.Lock(dir)
			if err != nil {
				t.Fatalf("Lock after the holder %s: %v", how, err)
			}
			if err := release(); err != nil {
				t.Errorf("release: %v", err)
			}
		})
	}
}

func TestLockInProcess(t *testing.T) {
	dir := t.TempDir()
	release, err := sqlite.Lock(dir)
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	// flock belongs to the open file, so a second Lock in the same process
	// is refused too (a test or a mistaken second server in one binary).
	if _, err := sqlite.Lock(dir); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("(pid %d)", os.Getpid())) {
		t.Errorf("second Lock in process = %v, want refusal naming pid %d", err, os.Getpid())
	}
	if err := release(); err != nil {
		t.Fatalf("release: %v", err)
	}
	if err := release(); err != nil {
		t.Errorf("second release: %v", err)
	}
	again, err := sqlite.Lock(dir)
	if err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	again()
}

func TestLockCreatesDir(t *testing.T) {
	dir := t.TempDir() + "/nested/data"
	release, err := sqlite.Lock(dir)
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	defer release()
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory: %v, %v; want mode 0700", fi.Mode(), err)
	}
}

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
