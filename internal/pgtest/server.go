package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// missingError means the machine has no Postgres to test with; it makes tests
// skip (or fail under CI=true) instead of failing outright.
type missingError struct{ reason string }

func (e *missingError) Error() string { return e.reason }

// lookup says where to find the Postgres binaries and how to read the
// environment; tests replace it to simulate a machine without Postgres.
type lookup struct {
	getenv func(string) string
	path   string   // PATH-style list, searched first
	globs  []string // fallback bin directories; the highest version wins
}

func defaultLookup() lookup {
	return lookup{
		getenv: os.Getenv,
		path:   os.Getenv("PATH"),
		globs:  []string{"/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/opt/homebrew/opt/postgresql@*/bin", "/usr/local/opt/postgresql@*/bin"},
	}
}

// binaries are the two programs the harness runs. pg_ctl is not needed: the
// harness supervises postgres itself so that it can tie the server's life to
// the test process (see spawn).
type binaries struct {
	initdb, postgres string
}

func findBinaries(l lookup) (binaries, error) {
	var dirs []string
	for _, d := range filepath.SplitList(l.path) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	for _, g := range l.globs {
		matches, _ := filepath.Glob(g)
		// Highest major version first: "/usr/lib/postgresql/16/bin" before ".../9.6/bin".
		slices.SortFunc(matches, func(a, b string) int { return compareVersions(b, a) })
		dirs = append(dirs, matches...)
	}
	for _, d := range dirs {
		b := binaries{initdb: filepath.Join(d, "initdb"), postgres: filepath.Join(d, "postgres")}
		if isExecutable(b.initdb) && isExecutable(b.postgres) {
			return b, nil
		}
	}
	return binaries{}, &missingError{"initdb/postgres not found on PATH or under /usr/lib/postgresql/*/bin"}
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// compareVersions orders paths by the numbers in them, so that 10 > 9.6.
func compareVersions(a, b string) int {
	na, nb := numbers(a), numbers(b)
	return slices.Compare(na, nb)
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
// as root, so under root the harness switches to the "postgres" OS user (or
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
	return nil, &missingError{"running as root and there is no 'postgres' (or 'nobody') OS user to run Postgres as"}
}

// dirPrefix names the harness's directories so a later run can find and
// remove the ones a crashed run left behind (see sweep).
const dirPrefix = "rotor-pgtest-"

// server is one throwaway Postgres cluster supervised by this process.
type server struct {
	bins binaries
	cred *syscall.Credential
	dir  string // owns everything; removed by destroy
	data string
	port int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	starts int
}

// newServer runs initdb in a fresh directory and starts the server on a free
// loopback port.
func newServer(bins binaries) (*server, error) {
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	sweepOnce.Do(func() { sweep(tempParent(cred != nil)) })
	dir, err := os.MkdirTemp(tempParent(cred != nil), dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s := &server{bins: bins, cred: cred, dir: dir, data: filepath.Join(dir, "data")}
	if err := s.init(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// Another process can take the port between our probe and the server's
	// bind; a few attempts with fresh ports make that harmless.
	for attempt := 0; ; attempt++ {
		s.port, err = freePort()
		if err == nil {
			err = s.start()
		}
		if err == nil {
			return s, nil
		}
		if attempt == 4 || !errors.Is(err, errBind) {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

func (s *server) init() error {
	// The owner file lets sweep tell a live run's directory from a crashed one's.
	if err := os.WriteFile(filepath.Join(s.dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if s.cred != nil {
		// MkdirTemp gives 0700 root:root; the postgres user must own the
		// directory to create the data directory inside it.
		if err := os.Chown(s.dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
	}
	cmd := exec.Command(s.bins.initdb,
		"-D", s.data,
		"-U", "postgres",
		"--auth=trust", // loopback only, throwaway data
		"--encoding=UTF8",
		"--locale=C",
		"-N", // no fsync: the cluster dies with the test run
	)
	s.prepare(cmd)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	return nil
}

func (s *server) prepare(cmd *exec.Cmd) {
	cmd.Dir = s.dir // a cwd the postgres user can enter
	cmd.Env = []string{"LC_ALL=C", "TZ=UTC", "PATH=" + os.Getenv("PATH")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true}
}

// errBind marks a start that failed because the port was taken.
var errBind = errors.New("port in use")

// start starts postgres on s.port and waits until it accepts connections.
func (s *server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("pgtest: server already running")
	}
	s.starts++
	logPath := filepath.Join(s.dir, fmt.Sprintf("postgres-%d.log", s.starts))
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer logf.Close() // the child keeps its own descriptor
	cmd := exec.Command(s.bins.postgres,
		"-D", s.data,
		"-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=", // no socket files to collide or leak
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=300",
		"-c", "shared_buffers=32MB",
		"-c", "max_wal_size=1GB",
		"-c", "max_parallel_workers_per_gather=0", // 2-core CI machines; also avoids /dev/shm use
		"-c", "TimeZone=UTC",
	)
	s.prepare(cmd)
	// If the test process dies without stopping us (panic, timeout, kill),
	// the kernel sends SIGQUIT, Postgres's immediate shutdown.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := spawn(cmd); err != nil {
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited

	if err := waitReady(s.adminURL(), exited); err != nil {
		s.kill()
		out, _ := os.ReadFile(logPath)
		if bytes.Contains(out, []byte("could not bind")) || bytes.Contains(out, []byte("Address already in use")) {
			return fmt.Errorf("pgtest: postgres on port %d: %w", s.port, errBind)
		}
		return fmt.Errorf("pgtest: postgres did not start: %v\n%s", err, tail(out, 2000))
	}
	return nil
}

// waitReady polls until the server accepts a connection, it exits, or a
// minute passes.
func waitReady(url string, exited <-chan struct{}) error {
	deadline := time.Now().Add(time.Minute)
	pause := 5 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, url)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-exited:
			return errors.New("postgres exited")
		case <-time.After(pause):
		}
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// stop shuts the server down fast (SIGINT: roll back open transactions,
// disconnect clients, checkpoint) and waits for it to exit.
func (s *server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill()
}

// kill stops the running process, escalating if it does not exit; s.mu held.
func (s *server) kill() {
	if s.cmd == nil {
		return
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGQUIT, syscall.SIGKILL} {
		s.cmd.Process.Signal(sig)
		select {
		case <-s.exited:
			s.cmd, s.exited = nil, nil
			return
		case <-time.After(30 * time.Second):
		}
	}
}

// destroy stops the server and removes its directory.
func (s *server) destroy() {
	s.stop()
	os.RemoveAll(s.dir)
}

func (s *server) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

func (s *server) adminURL() string { return s.url("postgres") }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// spawn starts cmd from one OS thread that lives as long as the process.
// Pdeathsig fires when the thread that forked the child exits, not the
// process; an ordinary goroutine's thread can exit early, which would kill
// Postgres in the middle of a test run.
func spawn(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnRequest)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread must outlive every child
			for r := range spawner.reqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawner.reqs <- spawnRequest{cmd, done}
	return <-done
}

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

var spawner struct {
	once sync.Once
	reqs chan spawnRequest
}

// tempParent picks where the harness's directories go. When Postgres runs as
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

// sweep removes directories that earlier, crashed test runs left behind: those
// whose owning test process and postmaster are both gone. Pdeathsig already
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
