//go:build unix

package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Lock takes the data directory for one serving process: an exclusive,
// non-blocking flock(2) on a lock file in dir, which holds the holder's pid.
// If another process holds it, Lock fails at once with an *InUseError. The
// kernel releases the lock when the process exits, however it exits, so a
// crashed server never leaves the directory locked. Admin commands do not
// take it: they share the database with the server through SQLite's own
// locking. release is safe to call more than once.
func Lock(dir string) (release func() error, err error) {
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("sqlite: data directory: %w", err)
	}
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, serveLockFile)
	// Not O_TRUNC: the file holds the current holder's pid, which a losing
	// contender reads for its error message.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: data directory %s is not writable: %w", dir, err)
	}
	if err := flock(f); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &InUseError{Dir: dir, PID: readPID(f)}
		}
		return nil, fmt.Errorf("sqlite: lock data directory %s: %w", dir, err)
	}
	// Ours now. Write the pid first and trim after, so a contender never
	// reads an empty file in between.
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	_, err = f.WriteAt(pid, 0)
	if err == nil {
		err = f.Truncate(int64(len(pid)))
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("sqlite: write %s: %w", path, err)
	}
	return sync.OnceValue(func() error {
		// Emptying the file first means a stale pid is never blamed; closing
		// the descriptor releases the lock.
		return errors.Join(f.Truncate(0), f.Close())
	}), nil
}

// readPID reads the holder's pid from the lock file; 0 if there is none.
func readPID(f *os.File) int {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// flock tries to take an exclusive flock on f without waiting. flock locks
// belong to the open file, not the process, so two handles in one process
// exclude each other too.
func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// lockMigrations serialises migrations in dir across processes with a
// flock on a separate lock file (not the serve lock, which admin commands
// must not need). It polls without blocking so that it gives up when ctx
// ends.
func lockMigrations(ctx context.Context, dir string) (unlock func(), err error) {
	path := filepath.Join(dir, migrateLockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: data directory %s is not writable: %w", dir, err)
	}
	delay := time.Millisecond
	for {
		err := flock(f)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("sqlite: lock %s: %w", path, err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("sqlite: another process kept migrating the database in %s: %w", dir, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}
