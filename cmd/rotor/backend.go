package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/keys"
	"github.com/rotor-idp/rotor/sql/postgres"
)

// store is everything a Rotor store implements.
type store interface {
	idp.UserStore
	idp.ClientStore
	idp.RefreshStore
	idp.Pinger
	keys.Store
}

// backend is an open store with the key-encryption keys that go with it.
type backend struct {
	store
	raw   keys.Store // the store itself, so the key manager can see it is also a keys.Watcher
	keks  *keys.KEKSet
	kind  string
	close func()
}

func (b *backend) Close() { b.close() }

// openBackend opens (and migrates) the store the configuration names: Postgres
// for a postgres:// URL, the embedded store otherwise. Only commands that
// touch private keys (withKEKs) need the key-encryption keys.
func openBackend(ctx context.Context, c *config, withKEKs bool, log *slog.Logger, stderr io.Writer) (*backend, error) {
	if c.database == "" {
		return nil, errors.New("no --database given (ROTOR_DATABASE): the embedded store is not available yet; pass a postgres:// URL")
	}
	if !strings.HasPrefix(c.database, "postgres://") && !strings.HasPrefix(c.database, "postgresql://") {
		return nil, usagef("--database must be a postgres:// URL")
	}
	var keks *keys.KEKSet
	if withKEKs {
		if c.keks == "" {
			return nil, usagef("--key-encryption-keys (ROTOR_KEY_ENCRYPTION_KEYS) is required with Postgres: private keys are stored encrypted under it. Make one with: rotor keys new-kek")
		}
		var err error
		if keks, err = keys.ParseKEKs(c.keks); err != nil {
			return nil, usagef("--key-encryption-keys: %v", err)
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
	return &backend{store: s, raw: s, keks: keks, kind: "postgres", close: s.Close}, nil
}
