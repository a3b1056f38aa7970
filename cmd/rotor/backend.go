package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
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
	return &backend{st: s, keks: keks, kind: "postgres", close: s.Close}, nil
}

// kekFile is where the embedded store keeps the key-encryption key Rotor
// generated for it, when none is configured.
const kekFile = "key-encryption-key"

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

// embeddedKEKs returns the configured key-encryption keys or the data
// directory's key file. The file is generated only while the store holds no
// signing keys, so an existing ring is never left without its key.
func embeddedKEKs(ctx context.Context, c *config, s keys.Store, log *slog.Logger) (*keys.KEKSet, error) {
	if c.keks != "" {
		k, err := keys.ParseKEKs(c.keks)
		if err != nil {
			return nil, usagef("--key-encryption-keys: %v", err)
		}
		return k, nil
	}
	path := filepath.Join(c.dataDir, kekFile)
	raw, err := os.ReadFile(path)
	switch {
	case err == nil:
		k, err := keys.ParseKEKs(strings.TrimSpace(string(raw)))
		if err != nil {
			return nil, fmt.Errorf("%s is not a valid key-encryption key file: %v", path, err)
		}
		return k, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("cannot read the key-encryption key file: %w", err)
	}
	existing, err := s.Keys(ctx)
	if err != nil {
		return nil, err
	}
	if len(existing) > 0 {
		return nil, fmt.Errorf("%s is missing, but the signing keys in %s are encrypted under it: restore the file, or pass the key with --key-encryption-keys", path, c.dataDir)
	}
	entry, err := keys.GenerateKEK()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("write the key-encryption key file: %w", err)
	}
	if _, err := f.WriteString(entry + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write the key-encryption key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write the key-encryption key file: %w", err)
	}
	log.Warn("generated a key-encryption key for the embedded store; in production configure your own with --key-encryption-keys and keep it away from the data",
		"file", path)
	return keys.ParseKEKs(entry)
}
