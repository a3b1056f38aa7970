package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"hash/fnv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var files embed.FS

// VersionTable is the table in which goose records the applied migrations.
const VersionTable = "rotor_schema_migrations"

// FS returns the migration files (goose SQL format, one file per version).
func FS() embed.FS { return files }

// lockID is the session advisory lock that serialises migrations. It is
// derived from a Rotor-specific name so that Rotor never waits on, or blocks,
// another application's goose migrations in a shared database.
var lockID = func() int64 {
	h := fnv.New64a()
	h.Write([]byte("rotor/schema-migrations"))
	return int64(h.Sum64())
}()

// Up applies every pending migration to the database at url. It is idempotent
// and safe to run from several processes at once: a session-level advisory
// lock lets one of them migrate while the others wait (polling every second,
// for up to five minutes) and then find nothing left to do.
func Up(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx's parse errors can quote the URL, password included.
		return fmt.Errorf("migrations: invalid database URL")
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	return up(ctx, db)
}

func up(ctx context.Context, db *sql.DB) error {
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(lockID),
		lock.WithLockTimeout(1, 300),
		lock.WithUnlockTimeout(1, 60),
	)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, files,
		goose.WithSessionLocker(locker),
		goose.WithTableName(VersionTable),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	defer p.Close()
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	return nil
}
