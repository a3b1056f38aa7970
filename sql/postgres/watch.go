package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// watchHealthInterval is how long WatchKeys waits for a notification before
// checking that its connection still works: a connection that died without
// a word (a dropped network path) would otherwise wait forever.
const watchHealthInterval = 30 * time.Second

// WatchKeys implements keys.Watcher with LISTEN on KeysChannel. It uses a
// connection of its own, outside the pool, so that a long-lived watcher never
// takes a connection away from requests. It calls changed once as soon as it
// is listening, since a change may have committed between the caller's last
// load and the subscription, and then once per notification.
func (s *Store) WatchKeys(ctx context.Context, changed func()) error {
	const op = "watch keys"
	conn, err := s.listen(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return mapErr(op, err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		conn.Close(closeCtx)
	}()
	changed()
	for {
		waitCtx, cancel := context.WithTimeout(ctx, watchHealthInterval)
		_, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case err == nil:
			changed()
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err):
			// Quiet period: make sure the connection is alive.
			pingCtx, cancel := s.callCtx(ctx)
			err := conn.Ping(pingCtx)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return mapErr(op, err)
			}
		default:
			return mapErr(op, err)
		}
	}
}

func (s *Store) listen(ctx context.Context) (*pgx.Conn, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+KeysChannel); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return conn, nil
}
