package sqlite

import (
	"context"
	"errors"
	"time"
)

// errClosed ends WatchKeys when the store is closed under it.
var errClosed = errors.New("sqlite: store closed")

// keysChanged tells this Store's watchers, at once, that it committed a key
// change.
func (s *Store) keysChanged() {
	s.watchMu.Lock()
	close(s.keysGen)
	s.keysGen = make(chan struct{})
	s.watchMu.Unlock()
}

func (s *Store) keysGeneration() <-chan struct{} {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	return s.keysGen
}

// WatchKeys calls changed soon after any process commits a key change. A
// change made through this Store is reported at once; one made by another
// process (say `rotor keys rotate`) is found within the watch interval by
// polling signing_keys_version, a counter that triggers bump on every change
// to signing_keys. (SQLite has no notifications across processes, and
// PRAGMA data_version would also fire on every refresh-token write.)
func (s *Store) WatchKeys(ctx context.Context, changed func()) error {
	last, err := s.keysVersion(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	tick := time.NewTicker(s.cfg.watchInterval)
	defer tick.Stop()
	for {
		gen := s.keysGeneration()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closed:
			return errClosed
		case <-gen:
			// The counter moved too: note it, before telling, so the next
			// tick stays quiet yet still sees any change made after the
			// caller reloads.
			if v, err := s.keysVersion(ctx); err == nil {
				last = v
			}
			changed()
		case <-tick.C:
			v, err := s.keysVersion(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return err
			}
			if v != last {
				last = v
				changed()
			}
		}
	}
}

func (s *Store) keysVersion(ctx context.Context) (int64, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var v int64
	err := s.retry(ctx, func() error { return s.stmts.keysVersion.QueryRowContext(ctx).Scan(&v) })
	return v, s.mapErr(ctx, "read key version", err)
}
