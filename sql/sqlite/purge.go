package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// purgeBatch bounds how many rows one purge transaction deletes (families
// for PurgeRefresh, each with its tokens), so that a large purge never holds
// the write lock for long and the token endpoint keeps going meanwhile.
const purgeBatch = 500

// purge deletes the rows of table whose column (an indexed time) is before
// cutoff, the oldest first, in transactions of at most purgeBatch rows, and
// returns how many it deleted. After each batch it pauses idp.PurgeRest
// times as long as the batch took, so that writers queued for the one write
// connection get it between batches and a backlog costs the server at most
// a fiftieth of its write time. Each batch has the call timeout; ctx bounds the whole run. If
// purge fails part way, what it deleted stays deleted and the count says how
// much. The embedded store has one serving process, so no lock is needed to
// keep purges from running twice.
func (s *Store) purge(ctx context.Context, op, table, column string, cutoff time.Time) (int, error) {
	query := purgeSQL(table, column)
	total := 0
	for {
		start := time.Now()
		n, err := s.purgeOnce(ctx, query, cutoff)
		if err != nil {
			return total, s.mapErr(ctx, op, err)
		}
		total += n
		if n < purgeBatch {
			return total, nil
		}
		select {
		case <-ctx.Done():
			return total, s.mapErr(ctx, op, ctx.Err())
		case <-time.After(idp.PurgeRest * time.Since(start)):
		}
	}
}

// purgeSQL deletes at most ?2 rows of table whose column is before ?1, the
// oldest first, through column's index.
func purgeSQL(table, column string) string {
	return `DELETE FROM ` + table + ` WHERE rowid IN (
    SELECT rowid FROM ` + table + ` WHERE ` + column + ` < ? ORDER BY ` + column + ` LIMIT ?)`
}

// purgeOnce runs one batch of purge under the call timeout.
func (s *Store) purgeOnce(ctx context.Context, query string, cutoff time.Time) (int, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var n int64
	err := s.write(ctx, false, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, micros(cutoff), purgeBatch)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
