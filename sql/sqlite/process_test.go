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
	"testing"
	"time"

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
