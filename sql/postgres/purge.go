package postgres

import (
	"context"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rotor-idp/rotor/idp"
)

// Defaults of the purge options.
const (
	// DefaultPurgeBatch is the most rows one purge transaction deletes
	// (families for PurgeRefresh, each with its tokens).
	DefaultPurgeBatch = 1000
	// DefaultPurgeBatchTime is how long one purge transaction should take:
	// a batch that takes longer halves the next one.
	DefaultPurgeBatchTime = 10 * time.Millisecond
)

// WithPurgeBatch sets the most rows one purge transaction deletes
// (DefaultPurgeBatch).
func WithPurgeBatch(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.purgeBatch = n
		}
	}
}

// WithPurgeBatchTime sets the time one purge transaction aims for
// (DefaultPurgeBatchTime); see purge.
func WithPurgeBatchTime(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.purgeBatchTime = d
		}
	}
}

// purgeTable is what one purge deletes: the rows of table whose column is
// before the cutoff, found through column's index and named by key.
type purgeTable struct {
	op, table, key, column string
}

var (
	purgeFamilies = purgeTable{"purge refresh families", "refresh_families", "id", "expires_at"}
	purgeSessions = purgeTable{"purge browser sessions", "browser_sessions", "id", "idle_expires_at"}
	purgeCodes    = purgeTable{"purge authorization codes", "auth_codes", "hash", "expires_at"}
	purgeJTIs     = purgeTable{"purge jtis", "used_jtis", "key", "expires_at"}
)

// query deletes at most $2 rows older than $1, oldest first. The keys are
// collected into an array first, so the delete itself is a primary-key
// lookup whatever the planner thinks of the table's size. Rows another
// transaction holds (a refresh in progress) are skipped, not waited for: the
// next purge takes them.
func (p purgeTable) query() string {
	return `DELETE FROM ` + p.table + ` WHERE ` + p.key + ` = ANY(ARRAY(
	    SELECT ` + p.key + ` FROM ` + p.table + ` WHERE ` + p.column + ` < $1
	    ORDER BY ` + p.column + ` LIMIT $2 FOR UPDATE SKIP LOCKED))`
}

// lockKey is the session advisory lock that lets one process at a time
// purge the table, namespaced like laneLockKey.
func (p purgeTable) lockKey() int64 {
	h := fnv.New64a()
	h.Write([]byte("rotor/purge/"))
	h.Write([]byte(p.table))
	return int64(h.Sum64())
}

// purge deletes p's rows older than cutoff in short transactions of at most
// the purge batch each, the oldest first, and returns how many it deleted.
//
// Only one process purges a table at a time: purge holds a session advisory
// lock for its whole run, and a replica that finds it taken returns 0 at once
// (the holder is deleting the same rows). A batch that takes longer than the
// batch time halves the next one, one well under it doubles it again (up to
// the batch), and after each batch purge pauses idp.PurgeRest times as long as
// the batch took, so that it takes at most a fiftieth of one connection's
// time, however large the backlog, and leaves the rest of the database to
// the requests.
//
// Each batch has the call timeout; ctx bounds the whole run. If purge fails
// part way, what it deleted stays deleted and the count says how much.
func (s *Store) purge(ctx context.Context, p purgeTable, cutoff time.Time) (int, error) {
	var pc *pgxpool.Conn
	err := s.run(ctx, p.op, func(ctx context.Context) (err error) {
		pc, err = s.pool.Acquire(ctx)
		return err
	})
	if err != nil {
		return 0, err
	}
	locked := false
	err = s.run(ctx, p.op, func(ctx context.Context) error {
		return pc.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, p.lockKey()).Scan(&locked)
	})
	// After an error the session may hold the lock without our knowing:
	// releasePurge then tries to unlock, and closes the connection (which
	// releases any lock) if that fails.
	mayHold := locked || err != nil
	defer s.releasePurge(pc, p, mayHold)
	if err != nil || !locked {
		return 0, err
	}
	total, batch, query := 0, s.purgeBatch, p.query()
	for {
		start := time.Now()
		var n int
		err := s.run(ctx, p.op, func(ctx context.Context) error {
			tag, err := pc.Exec(ctx, query, cutoff, batch)
			n = int(tag.RowsAffected())
			return err
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < batch {
			return total, nil
		}
		took := time.Since(start)
		switch {
		case took > s.purgeBatchTime:
			batch = max(batch/2, 1)
		case took < s.purgeBatchTime/4:
			batch = min(batch*2, s.purgeBatch)
		}
		select {
		case <-ctx.Done():
			return total, mapErr(p.op, ctx.Err())
		case <-time.After(idp.PurgeRest * took):
		}
	}
}

// releasePurge unlocks the purge lock and returns the connection to the
// pool; a connection that cannot be unlocked is closed, which releases the
// lock too.
func (s *Store) releasePurge(pc *pgxpool.Conn, p purgeTable, locked bool) {
	defer pc.Release()
	if !locked {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.callTimeout)
	defer cancel()
	var unlocked bool
	if err := pc.QueryRow(ctx, `SELECT pg_advisory_unlock($1)`, p.lockKey()).Scan(&unlocked); err != nil || !unlocked {
		_ = pc.Conn().Close(ctx)
	}
}
