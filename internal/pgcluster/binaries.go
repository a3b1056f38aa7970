package pgcluster

import (
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// MissingError means the machine has no Postgres to run: the binaries are
// not installed, or there is no OS user to run them as. Tests skip on it (or
// fail under CI=true) instead of failing outright.
type MissingError struct{ Reason string }

func (e *MissingError) Error() string { return e.Reason }

// Lookup says where to find the Postgres binaries.
type Lookup struct {
	Path  string   // PATH-style list, searched first
	Globs []string // fallback bin directories; the highest version wins
}

// DefaultLookup searches $PATH, then the places Debian, Red Hat and Homebrew
// install Postgres.
func DefaultLookup() Lookup {
	return Lookup{
		Path:  os.Getenv("PATH"),
		Globs: []string{"/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/opt/homebrew/opt/postgresql@*/bin", "/usr/local/opt/postgresql@*/bin"},
	}
}

// Binaries are the two programs a cluster runs. pg_ctl is not needed: this
// package supervises postgres itself so that it can tie the server's life to
// this process (see spawn).
type Binaries struct {
	Initdb, Postgres string
}

// Find returns the first directory holding both binaries, or a
// *MissingError.
func (l Lookup) Find() (Binaries, error) {
	var dirs []string
	for _, d := range filepath.SplitList(l.Path) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	for _, g := range l.Globs {
		matches, _ := filepath.Glob(g)
		// Highest major version first: "/usr/lib/postgresql/16/bin" before ".../9.6/bin".
		slices.SortFunc(matches, func(a, b string) int { return compareVersions(b, a) })
		dirs = append(dirs, matches...)
	}
	for _, d := range dirs {
		b := Binaries{Initdb: filepath.Join(d, "initdb"), Postgres: filepath.Join(d, "postgres")}
		if isExecutable(b.Initdb) && isExecutable(b.Postgres) {
			return b, nil
		}
	}
	return Binaries{}, &MissingError{"initdb/postgres not found on PATH or under /usr/lib/postgresql/*/bin"}
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// compareVersions orders paths by the numbers in them, so that 10 > 9.6.
func compareVersions(a, b string) int {
	return slices.Compare(numbers(a), numbers(b))
}

func numbers(s string) []int {
	var out []int
	for f := range strings.FieldsFuncSeq(s, func(r rune) bool { return r < '0' || r > '9' }) {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}

// runAs returns the credentials to run Postgres with: postgres refuses to run
// as root, so under root the cluster runs as the "postgres" OS user (or
// "nobody" if there is none). It returns nil when no switch is needed.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, &MissingError{"running as root and there is no 'postgres' (or 'nobody') OS user to run Postgres as"}
}
