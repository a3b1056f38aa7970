package pgcluster

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// dirPrefix names the clusters' directories so a later run can find and
// remove the ones a crashed run left behind (see sweep). It predates this
// package's name, and stays so that old leftovers are swept too.
const dirPrefix = "rotor-pgtest-"

// tempParent picks where the clusters' directories go. When Postgres runs as
// another user every ancestor must be searchable by it; $TMPDIR may not be
// (e.g. under /root), and /tmp always is.
func tempParent(otherUser bool) string {
	t := os.TempDir()
	if !otherUser || searchable(t) {
		return t
	}
	return "/tmp"
}

func searchable(dir string) bool {
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

var sweepOnce sync.Once

// sweep removes directories that earlier, crashed runs left behind: those
// whose owning process and postmaster are both gone. Pdeathsig already
// stopped their servers; only the files remain.
func sweep(parent string) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), dirPrefix) {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		owner, err := readPID(filepath.Join(dir, "owner"))
		if err != nil || alive(owner) {
			continue // not ours to judge, or still in use
		}
		if pm, err := readPID(filepath.Join(dir, "data", "postmaster.pid")); err == nil && alive(pm) {
			continue
		}
		os.RemoveAll(dir)
	}
}

func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(line))
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
