package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/keys"
	"github.com/rotor-idp/rotor/sql/postgres/migrations"
)

// Compile-time checks that Store keeps its contracts.
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

// Defaults of Open's options.
const (
	// DefaultCallTimeout bounds every call whose context has no deadline, so
	// that no request can hang on the database.
	DefaultCallTimeout = 5 * time.Second
	// DefaultConnectTimeout bounds establishing one connection.
	DefaultConnectTimeout = 5 * time.Second
	// PingTimeout bounds Ping: readiness must answer quickly.
	PingTimeout = 2 * time.Second
)

// DefaultMaxConns is the pool size unless WithMaxConns or the URL's
// pool_max_conns says otherwise: 4 per GOMAXPROCS, at least 4 and at most 32,
// since every replica of Rotor shares the server's max_connections. Each
// running WatchKeys holds one more connection of its own.
func DefaultMaxConns() int32 {
	return int32(min(max(4*runtime.GOMAXPROCS(0), 4), 32))
}

// maxAttempts bounds retries of transactions that failed on a serialisation
// failure or deadlock, or on a connection that broke before anything was
// sent.
const maxAttempts = 4

// Store is Rotor's Postgres store. It is safe for concurrent use, also by
// several processes (replicas) sharing one database.
type Store struct {
	pool           *pgxpool.Pool
	callTimeout    time.Duration
	purgeBatch     int
	purgeBatchTime time.Duration
	replay         replayBatcher
}

// Option configures Open.
type Option func(*options)

type options struct {
	maxConns       int32
	callTimeout    time.Duration
	connectTimeout time.Duration
	purgeBatch     int
	purgeBatchTime time.Duration
}

// WithMaxConns sets the pool size (see DefaultMaxConns).
func WithMaxConns(n int32) Option { return func(o *options) { o.maxConns = n } }

// WithCallTimeout sets the timeout applied to calls whose context has no
// deadline (DefaultCallTimeout).
func WithCallTimeout(d time.Duration) Option { return func(o *options) { o.callTimeout = d } }

// WithConnectTimeout sets the timeout of establishing one connection
// (DefaultConnectTimeout), unless the URL's connect_timeout sets it.
func WithConnectTimeout(d time.Duration) Option {
	return func(o *options) { o.connectTimeout = d }
}

// Open returns a store for the database at url (a postgres:// URL or a
// keyword/value string; pgxpool's pool_* parameters are honoured). It does
// not connect: connections are made on demand, so a replica can start before
// its database; use Ping to check reachability. Close releases the pool.
//
// Times are stored to the microsecond and read back in UTC, as
// keys.Store documents: pgx truncates finer times (towards the past) before
// sending them, in the binary and in the text encoding alike, so the server
// never rounds, whichever query mode the URL selects.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	o := options{
		callTimeout: DefaultCallTimeout, connectTimeout: DefaultConnectTimeout,
		purgeBatch: DefaultPurgeBatch, purgeBatchTime: DefaultPurgeBatchTime,
	}
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message can echo the URL, and the URL can hold a password.
		return nil, errors.New("postgres: cannot parse the database URL")
	}
	switch {
	case o.maxConns > 0:
		cfg.MaxConns = o.maxConns
	case !strings.Contains(url, "pool_max_conns"):
		cfg.MaxConns = DefaultMaxConns()
	}
	if cfg.ConnConfig.ConnectTimeout == 0 && !strings.Contains(url, "connect_timeout") {
		cfg.ConnConfig.ConnectTimeout = o.connectTimeout
	}
	cfg.PingTimeout = PingTimeout
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	return &Store{pool: pool, callTimeout: o.callTimeout, purgeBatch: o.purgeBatch, purgeBatchTime: o.purgeBatchTime}, nil
}

// Close closes the pool, waiting for connections in use to be returned.
func (s *Store) Close() { s.pool.Close() }

// Migrate applies Rotor's pending schema migrations to the database at url.
// It is idempotent, and replicas starting together migrate once: the others
// wait on a database lock and then find nothing to do.
func Migrate(ctx context.Context, url string) error {
	return migrations.Up(ctx, url)
}

// Ping reports whether the database answers, within PingTimeout at most;
// failures wrap idp.ErrUnavailable.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	return mapErr("ping", s.pool.Ping(ctx))
}

// callCtx applies the call timeout when the caller set no deadline.
func (s *Store) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.callTimeout)
}

// callerError carries an error returned by a caller's callback through the
// transaction machinery, which returns it unchanged instead of mapping it.
type callerError struct{ err error }

func (e *callerError) Error() string { return e.err.Error() }

// run runs fn under the call timeout, retrying it when the failure is
// transient and fn can safely run again, and maps the final error.
func (s *Store) run(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if ce, ok := errors.AsType[*callerError](err); ok {
			return ce.err
		}
		if err == nil || attempt == maxAttempts || !retryable(err) || ctx.Err() != nil {
			return mapErr(op, err)
		}
		// Jittered, growing pause so that colliding transactions diverge.
		pause := time.Duration(attempt) * time.Duration(1+rand.IntN(10)) * time.Millisecond
		select {
		case <-ctx.Done():
			return mapErr(op, err)
		case <-time.After(pause):
		}
	}
}

// inTx runs fn in a read-committed transaction under run's retry rules.
func (s *Store) inTx(ctx context.Context, op string, fn func(ctx context.Context, tx pgx.Tx) error) error {
	return s.run(ctx, op, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(ctx, tx) })
	})
}

// Times are timestamptz: Postgres keeps microseconds, and NULL stands for the
// zero time ("not yet").

func nullTime(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

func fromNull(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// nilIfEmpty makes empty byte strings and lists read back as nil, so that a
// round trip does not depend on how the column spells "nothing".
func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// emptyIfNil stores nil as an empty value in NOT NULL columns.
func emptyIfNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// PoolStat returns the connection pool's statistics (for metrics).
func (s *Store) PoolStat() *pgxpool.Stat { return s.pool.Stat() }
