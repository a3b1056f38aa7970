//go:build !unix

package sqlite

import (
	"context"
	"errors"
	"fmt"
)

// Lock is not available on this platform: it needs flock(2).
func Lock(dir string) (release func() error, err error) {
	return nil, fmt.Errorf("sqlite: locking data directory %s: %w", dir, errors.ErrUnsupported)
}

// lockMigrations does nothing here; goose's per-migration transactions still
// keep a migration whole, but two processes migrating at once may collide.
func lockMigrations(context.Context, string) (func(), error) { return func() {}, nil }
