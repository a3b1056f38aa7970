package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is one throwaway Postgres server supervised by this process:
// loopback only, trust authentication, no fsync. If this process dies without
// destroying it, the kernel stops the server (Pdeathsig) and a later New
// removes its files (sweep).
type Cluster struct {
	bins Binaries
	cred *syscall.Credential
	dir  string // owns everything; removed by Destroy
	data string
	port int

	mu     sync.Mutex
	extra  []string // "name=value" settings after the defaults; see Restart
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	starts int
}

// New runs initdb in a fresh directory and starts the server on a free
// loopback port. The caller must Destroy it.
func New(bins Binaries) (*Cluster, error) {
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	sweepOnce.Do(func() { sweep(tempParent(cred != nil)) })
	dir, err := os.MkdirTemp(tempParent(cred != nil), dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	c := &Cluster{bins: bins, cred: cred, dir: dir, data: filepath.Join(dir, "data")}
	if err := c.init(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// Another process can take the port between our probe and the server's
	// bind; a few attempts with fresh ports make that harmless.
	for attempt := 0; ; attempt++ {
		c.port, err = freePort()
		if err == nil {
			err = c.Start()
		}
		if err == nil {
			return c, nil
		}
		if attempt == 4 || !errors.Is(err, errBind) {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

func (c *Cluster) init() error {
	// The owner file lets sweep tell a live run's directory from a crashed one's.
	if err := os.WriteFile(filepath.Join(c.dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if c.cred != nil {
		// MkdirTemp gives 0700 root:root; the postgres user must own the
		// directory to create the data directory inside it.
		if err := os.Chown(c.dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
	}
	cmd := exec.Command(c.bins.Initdb,
		"-D", c.data,
		"-U", "postgres",
		"--auth=trust", // loopback only, throwaway data
		"--encoding=UTF8",
		"--locale=C",
		"-N", // no fsync: the cluster dies with the process
	)
	c.prepare(cmd)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgcluster: initdb: %v\n%s", err, out)
	}
	return nil
}

func (c *Cluster) prepare(cmd *exec.Cmd) {
	cmd.Dir = c.dir // a cwd the postgres user can enter
	cmd.Env = []string{"LC_ALL=C", "TZ=UTC", "PATH=" + os.Getenv("PATH")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Setpgid: true}
}

// errBind marks a start that failed because the port was taken.
var errBind = errors.New("port in use")

// Start starts the stopped server again, on the same port with the same
// data, and returns once it accepts connections. New starts it the first
// time.
func (c *Cluster) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd != nil {
		return errors.New("pgcluster: server already running")
	}
	c.starts++
	logPath := filepath.Join(c.dir, fmt.Sprintf("postgres-%d.log", c.starts))
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	defer logf.Close() // the child keeps its own descriptor
	cmd := exec.Command(c.bins.Postgres,
		"-D", c.data,
		"-p", strconv.Itoa(c.port),
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
	for _, kv := range c.extra {
		cmd.Args = append(cmd.Args, "-c", kv) // a later -c wins
	}
	c.prepare(cmd)
	// If this process dies without stopping us (panic, test timeout, kill),
	// the kernel sends SIGQUIT, Postgres's immediate shutdown.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := spawn(cmd); err != nil {
		return fmt.Errorf("pgcluster: start postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	c.cmd, c.exited = cmd, exited

	if err := waitReady(c.AdminURL(), exited); err != nil {
		c.kill()
		out, _ := os.ReadFile(logPath)
		if bytes.Contains(out, []byte("could not bind")) || bytes.Contains(out, []byte("Address already in use")) {
			return fmt.Errorf("pgcluster: postgres on port %d: %w", c.port, errBind)
		}
		return fmt.Errorf("pgcluster: postgres did not start: %v\n%s", err, tail(out, 2000))
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

// Stop shuts the server down fast (SIGINT: roll back open transactions,
// disconnect clients, checkpoint) and returns once it has exited. Stopping a
// stopped server does nothing.
func (c *Cluster) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.kill()
}

// kill stops the running process, escalating if it does not exit; c.mu held.
func (c *Cluster) kill() {
	if c.cmd == nil {
		return
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGQUIT, syscall.SIGKILL} {
		c.cmd.Process.Signal(sig)
		select {
		case <-c.exited:
			c.cmd, c.exited = nil, nil
			return
		case <-time.After(30 * time.Second):
		}
	}
}

// Restart stops the server and starts it again with settings ("name=value",
// such as "shared_buffers=256MB") over the defaults, which suit tests and
// not large databases.
func (c *Cluster) Restart(settings ...string) error {
	c.Stop()
	c.mu.Lock()
	c.extra = settings
	c.mu.Unlock()
	return c.Start()
}

// PID is the server's (postmaster's) process id, 0 when it is stopped.
func (c *Cluster) PID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// Destroy stops the server and removes its files.
func (c *Cluster) Destroy() {
	c.Stop()
	os.RemoveAll(c.dir)
}

// URL is the postgres:// URL of database db as the superuser "postgres". It
// stays valid across Stop and Start.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// AdminURL is the URL of the "postgres" database, to create and drop others
// from.
func (c *Cluster) AdminURL() string { return c.URL("postgres") }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgcluster: find a free port: %w", err)
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
// Postgres in the middle of a run.
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
