package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/keys"
)

// Compile-time checks: the store implements every role Rotor needs.
var (
	_ idp.UserStore    = (*Store)(nil)
	_ idp.ClientStore  = (*Store)(nil)
	_ idp.RefreshStore = (*Store)(nil)
	_ idp.SessionStore = (*Store)(nil)
	_ idp.CodeStore    = (*Store)(nil)
	_ idp.ConsentStore = (*Store)(nil)
	_ idp.Pinger       = (*Store)(nil)
	_ keys.Store       = (*Store)(nil)
	_ keys.Watcher     = (*Store)(nil)
)

// File names inside the data directory.
const (
	dbFile          = "rotor.db"
	serveLockFile   = "serve.lock"
	migrateLockFile = "migrate.lock"
)

// Defaults; see the Option functions.
const (
	defaultCallTimeout   = 5 * time.Second
	defaultBusyTimeout   = 5 * time.Second
	defaultWatchInterval = time.Second
	defaultOpenTimeout   = time.Minute
	readConns            = 4
	// busyAttempts bounds how often a call that found the database locked
	// past the busy timeout is tried again before it reports ErrUnavailable.
	busyAttempts = 3
)

// Store is the embedded store. It is safe for concurrent use by many
// goroutines, and several processes (a server and admin commands) may open
// the same data directory at once.
//
// Writes go through one connection per Store and begin with BEGIN IMMEDIATE,
// so the database write lock is taken before anything is read: a
// read-then-write transaction never has to upgrade its lock, which is what
// would deadlock (SQLITE_BUSY) with a writer in another process. Reads use a
// small pool of query-only connections; WAL mode lets them run alongside the
// writer.
type Store struct {
	dir  string // absolute data directory
	path string // absolute database file
	cfg  config

	w *sql.DB // one connection: writes
	r *sql.DB // readConns query-only connections: reads

	stmts stmts

	watchMu sync.Mutex
	keysGen chan struct{} // closed and replaced after this Store commits a key change

	busyRetries atomic.Uint64 // calls tried again on a locked database (metrics)

	closeOnce sync.Once
	closed    chan struct{}
	closeErr  error
}

type config struct {
	callTimeout   time.Duration
	busyTimeout   time.Duration
	watchInterval time.Duration
}

// Option adjusts Open.
type Option func(*config)

// WithCallTimeout sets the timeout applied to a call whose context has no
// deadline (default 5s).
func WithCallTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.callTimeout = d
		}
	}
}

// WithBusyTimeout sets how long one statement waits for a lock another
// connection or process holds before it gives up (default 5s). A call is
// retried a few times within its deadline before it reports ErrUnavailable.
func WithBusyTimeout(d time.Duration) Option {
	return func(c *config) {
		if d >= time.Millisecond {
			c.busyTimeout = d
		}
	}
}

// WithWatchInterval sets how often WatchKeys checks for key changes made by
// other processes (default 1s). Changes made through the same Store are
// reported at once.
func WithWatchInterval(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.watchInterval = d
		}
	}
}

// Open opens the store in dir, creating the directory (0700) and the
// database file (0600) if they do not exist and applying any pending
// migrations. It never creates a database over a file that is there but
// unreadable, corrupt or not Rotor's: it returns an error naming the path.
//
// Durability: the database runs in WAL mode with synchronous=NORMAL. A crash
// of Rotor loses nothing that was committed; a power loss or operating
// system crash may lose the last refresh-token rotations (clients then log
// in again) but never corrupts the file. Writes that are rare and matter
// more (users, clients, keys, family revocations) are committed with
// synchronous=FULL.
func Open(ctx context.Context, dir string, opts ...Option) (*Store, error) {
	cfg := config{callTimeout: defaultCallTimeout, busyTimeout: defaultBusyTimeout, watchInterval: defaultWatchInterval}
	for _, o := range opts {
		o(&cfg)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultOpenTimeout)
		defer cancel()
	}
	dir, path, err := prepare(ctx, dir, cfg)
	if err != nil {
		return nil, err
	}

	s := &Store{dir: dir, path: path, cfg: cfg, keysGen: make(chan struct{}), closed: make(chan struct{})}
	if s.w, err = sql.Open("sqlite", dsn(path, cfg.busyTimeout, false)); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// One writer connection: goroutines of this process queue for it in
	// database/sql (first come, honouring their contexts) instead of polling
	// SQLite's busy handler against each other.
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	if s.r, err = sql.Open("sqlite", dsn(path, cfg.busyTimeout, true)); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.r.SetMaxOpenConns(readConns)
	s.r.SetMaxIdleConns(readConns)
	s.r.SetConnMaxLifetime(0)
	s.r.SetConnMaxIdleTime(0)

	if err := s.stmts.prepare(ctx, s.w, s.r); err != nil {
		s.Close()
		return nil, s.mapErr(ctx, "prepare statements", err)
	}
	return s, nil
}

// Close closes the store. WatchKeys calls in progress return.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.stmts.close()
		s.closeErr = errors.Join(s.r.Close(), s.w.Close())
	})
	return s.closeErr
}

// Dir returns the absolute data directory.
func (s *Store) Dir() string { return s.dir }

// Ping reads the database, so a file that has become unreadable fails it.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	err := s.retry(ctx, func() error {
		var v int64
		return s.stmts.keysVersion.QueryRowContext(ctx).Scan(&v)
	})
	return s.mapErr(ctx, "ping", err)
}

// dsn is the modernc.org/sqlite data source name for path. The pragmas are
// applied to every new connection: busy_timeout first (so the others wait
// for locks), foreign keys (off by default in SQLite), and the durability
// level. mode=rw makes SQLite refuse to create a missing file: Open creates
// it, with the right permissions, and only when it should exist.
func dsn(path string, busy time.Duration, reader bool) string {
	q := url.Values{}
	q.Set("mode", "rw")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	if reader {
		// A read connection that tried to write would take the write lock
		// behind the writer's back.
		q.Add("_pragma", "query_only(1)")
	} else {
		// Every transaction on the writer begins with BEGIN IMMEDIATE.
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

// callCtx applies the default call timeout to a context without a deadline.
func (s *Store) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.cfg.callTimeout)
}

// retry runs fn again while it fails because the database stayed locked past
// the busy timeout, up to busyAttempts times and while ctx lasts.
func (s *Store) retry(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !isBusy(err) || attempt == busyAttempts || ctx.Err() != nil {
			return err
		}
		s.busyRetries.Add(1)
	}
}

// callbackError carries an error from a caller's function (UseRefresh's or
// UpdateLane's fn) through the transaction machinery, so that it is returned
// unchanged and never retried or mapped.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }

// lockError marks a failure to take the write lock (the writer connection
// or BEGIN IMMEDIATE), as opposed to a failure inside the transaction.
type lockError struct{ err error }

func (e lockError) Error() string { return e.err.Error() }
func (e lockError) Unwrap() error { return e.err }

// write runs fn in a write transaction begun with BEGIN IMMEDIATE and
// commits it, or rolls it back if fn fails. durable commits it with
// synchronous=FULL. The whole transaction, fn included, is tried again if the
// write lock stayed busy (see retry).
func (s *Store) write(ctx context.Context, durable bool, fn func(*sql.Tx) error) error {
	return s.retry(ctx, func() error { return s.writeOnce(ctx, durable, fn) })
}

func (s *Store) writeOnce(ctx context.Context, durable bool, fn func(*sql.Tx) error) (err error) {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return lockError{err}
	}
	defer conn.Close()
	if durable {
		// synchronous cannot change inside a transaction, so it is switched
		// around it; if switching back fails the connection merely stays on
		// the safer setting.
		if _, err := conn.ExecContext(ctx, "PRAGMA synchronous=FULL"); err != nil {
			return lockError{err}
		}
		defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA synchronous=NORMAL") }()
	}
	tx, err := conn.BeginTx(ctx, nil) // BEGIN IMMEDIATE, from the DSN's _txlock
	if err != nil {
		return lockError{err}
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// BusyRetries is how many calls were tried again because the database
// stayed locked past the busy timeout (for metrics).
func (s *Store) BusyRetries() uint64 { return s.busyRetries.Load() }
