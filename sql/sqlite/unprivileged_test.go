package sqlite_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rotor-idp/rotor/sql/sqlite"
)

// File permissions do not stop root, and CI runs as root. So the tests of
// what Open, Migrate and Lock do with files they may not read or write run
// those calls in a process of an unprivileged user when this one is root
// (the way the Postgres harness runs postgres), and in this process
// otherwise. Either way the calls meet the permissions as their owner.

// permCalls is what Open, Migrate and Lock said about a directory: an error
// message, or "" for success.
type permCalls struct{ open, migrate, lock string }

// permEnv is where a permission test makes its directories: under a base
// the unprivileged user can traverse, with its own copy of the test binary
// to run as that user. cred is nil when this process is not root.
type permEnv struct {
	base string
	cred *syscall.Credential
	bin  string
}

func newPermEnv(t *testing.T) *permEnv {
	t.Helper()
	e := &permEnv{base: t.TempDir()}
	if os.Geteuid() != 0 {
		return e
	}
	e.cred = unprivilegedUser(t)
	// t.TempDir's parent is 0700 root: a base of our own, traversable.
	base, err := os.MkdirTemp("", "rotor-sqlite-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o711); err != nil {
		t.Fatal(err)
	}
	e.base = base
	// The test binary sits under go's 0700 build directory; copy it.
	e.bin = filepath.Join(base, "sqlite.test")
	copyFile(t, os.Args[0], e.bin, 0o755)
	return e
}

// unprivilegedUser returns the credentials of the user the permission
// checks run as under root: "nobody" (or "postgres").
func unprivilegedUser(t *testing.T) *syscall.Credential {
	t.Helper()
	for _, name := range []string{"nobody", "postgres"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 == nil && err2 == nil && uid != 0 {
			return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		}
	}
	t.Fatal("running as root and there is no 'nobody' or 'postgres' user to check file permissions as")
	return nil
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// dir returns the path name in a fresh directory under the base; the
// directory belongs to the unprivileged user, the path does not exist yet.
func (e *permEnv) dir(t *testing.T, name string) string {
	t.Helper()
	d, err := os.MkdirTemp(e.base, "case-")
	if err != nil {
		t.Fatal(err)
	}
	e.own(t, d)
	return filepath.Join(d, name)
}

// own hands everything under root (inclusive) to the unprivileged user, so
// that the modes the test sets next apply to the user who makes the calls.
func (e *permEnv) own(t *testing.T, root string) {
	t.Helper()
	if e.cred == nil {
		return
	}
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(e.cred.Uid), int(e.cred.Gid))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// calls runs Open, Migrate and Lock on dir, in that order, as the
// unprivileged user.
func (e *permEnv) calls(t *testing.T, dir string) permCalls {
	t.Helper()
	if e.cred == nil {
		return refuseCalls(t.Context(), dir)
	}
	ctx, cancel := context.WithTimeout(t.Context(), processDeadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = []string{helperEnv + "=refuse", helperDirEnv + "=" + dir, "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: e.cred}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("unprivileged helper process: %v\n%s%s", err, out, stderr.Bytes())
	}
	got := map[string]string{}
	for line := range strings.Lines(string(out)) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), linePrefix)
		if !ok {
			continue
		}
		call, quoted, _ := strings.Cut(rest, " ")
		msg, err := strconv.Unquote(quoted)
		if err != nil {
			t.Fatalf("helper process said %q", line)
		}
		got[call] = msg
	}
	for _, call := range []string{"open", "migrate", "lock"} {
		if _, ok := got[call]; !ok {
			t.Fatalf("helper process did not report %s:\n%s%s", call, out, stderr.Bytes())
		}
	}
	return permCalls{open: got["open"], migrate: got["migrate"], lock: got["lock"]}
}

// refuseCalls makes the calls in this process; TestHelperProcess's "refuse"
// mode reports them for an unprivileged parent.
func refuseCalls(ctx context.Context, dir string) permCalls {
	var c permCalls
	s, err := sqlite.Open(ctx, dir)
	if err == nil {
		s.Close()
	}
	c.open = errText(err)
	c.migrate = errText(sqlite.Migrate(ctx, dir))
	release, err := sqlite.Lock(dir)
	if err == nil {
		err = release()
	}
	c.lock = errText(err)
	return c
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	if err.Error() == "" {
		return fmt.Sprintf("%T with an empty message", err)
	}
	return err.Error()
}
