package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/keys"
	"github.com/rotor-idp/rotor/sql/postgres"
	"github.com/rotor-idp/rotor/sql/sqlite"
)

// store is everything a Rotor store implements.
type store interface {
	idp.UserStore
	idp.ClientStore
	idp.RefreshStore
	idp.SessionStore
	idp.CodeStore
	idp.ConsentStore
	idp.ReplayStore
	idp.Pinger
	keys.Store
}

// backend is an open store with the key-encryption keys that go with it.
// The store is a named field, not embedded: whoever needs a store gets the
// implementation itself, so optional interfaces such as keys.Watcher stay
// visible to it.
type backend struct {
	st    store
	keks  *keys.KEKSet
	kind  string
	close func()
}

func (b *backend) Close() { b.close() }

// openMode says what a command needs from the store.
type openMode int

const (
	forAdmin openMode = iota // users and clients: no private keys
	forKeys                  // key commands: the key-encryption keys too
	forServe                 // serve: the keys, and the data directory to itself
)

// openBackend opens (and migrates) the store the configuration names: Postgres
// for a postgres:// URL, the embedded store under --data-dir otherwise.
func openBackend(ctx context.Context, c *config, mode openMode, log *slog.Logger) (*backend, error) {
	if c.database == "" {
		return openEmbedded(ctx, c, mode, log)
	}
	if !strings.HasPrefix(c.database, "postgres://") && !strings.HasPrefix(c.database, "postgresql://") {
		return nil, usagef("--database must be a postgres:// URL (or empty for the embedded store)")
	}
	var keks *keys.KEKSet
	if mode != forAdmin {
		var err error
		if keks, err = configuredKEKs(c); err != nil {
			return nil, err
		}
		if keks == nil {
			return nil, usagef("a key-encryption key is required with Postgres: private keys are stored encrypted under it. " +
				"Make one with `rotor keys new-kek` and pass it in ROTOR_KEY_ENCRYPTION_KEYS or a file named by --key-encryption-key-file")
		}
	}
	if err := postgres.Migrate(ctx, c.database); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	var opts []postgres.Option
	if c.dbMaxConns > 0 {
		opts = append(opts, postgres.WithMaxConns(int32(c.dbMaxConns)))
	}
	s, err := postgres.Open(ctx, c.database, opts...)
	if err != nil {
		return nil, err
	}
	return &backend{st: s, keks: keks, kind: "postgres", close: s.Close}, nil
}

// openEmbedded opens the embedded store. serve takes the data directory's
// lock, so a second server on the same directory is refused; admin commands
// share the database file with the running server.
func openEmbedded(ctx context.Context, c *config, mode openMode, log *slog.Logger) (b *backend, err error) {
	release := func() error { return nil }
	if mode == forServe {
		if release, err = sqlite.Lock(c.dataDir); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				_ = release()
			}
		}()
	}
	s, err := sqlite.Open(ctx, c.dataDir)
	if err != nil {
		return nil, err
	}
	b = &backend{st: s, kind: "embedded", close: func() { _ = s.Close(); _ = release() }}
	if mode == forAdmin {
		return b, nil
	}
	if b.keks, err = embeddedKEKs(ctx, c, s, log); err != nil {
		_ = s.Close()
		return nil, err
	}
	return b, nil
}
