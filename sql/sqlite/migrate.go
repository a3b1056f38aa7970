package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/pressly/goose/v3"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// applicationID marks a database file as Rotor's ("Rotr"); the first
// migration sets it. See https://www.sqlite.org/pragma.html#pragma_application_id.
const applicationID = 0x526f7472

// sqliteHeader starts every SQLite 3 database file
// (https://www.sqlite.org/fileformat.html#the_database_header).
var sqliteHeader = []byte("SQLite format 3\x00")

// Migrate creates the data directory and database in dir if needed and
// applies pending migrations. It is idempotent, and processes that run it at
// once take turns (a lock file in dir). Open calls it; `rotor migrate` may
// call it on its own.
func Migrate(ctx context.Context, dir string) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultOpenTimeout)
		defer cancel()
	}
	_, _, err := prepare(ctx, dir, config{busyTimeout: defaultBusyTimeout})
	return err
}

// prepare makes dir and its database ready to open: the directory exists and
// is usable, the file is Rotor's (or new), and migrations are applied. It
// returns the absolute directory and database paths.
func prepare(ctx context.Context, dir string, cfg config) (absDir, path string, err error) {
	if dir == "" {
		return "", "", errors.New("sqlite: no data directory given")
	}
	if absDir, err = filepath.Abs(dir); err != nil {
		return "", "", fmt.Errorf("sqlite: data directory %s: %w", dir, err)
	}
	if err := ensureDir(absDir); err != nil {
		return "", "", err
	}
	unlock, err := lockMigrations(ctx, absDir)
	if err != nil {
		return "", "", err
	}
	defer unlock()

	path = filepath.Join(absDir, dbFile)
	if err := checkFile(path); err != nil {
		return "", "", err
	}
	if err := migrate(ctx, path, cfg.busyTimeout); err != nil {
		return "", "", err
	}
	return absDir, path, nil
}

// ensureDir creates dir (0700: it holds sealed private keys and password
// hashes) unless it exists, and checks that it is a directory.
func ensureDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("sqlite: cannot create data directory %s: %w", dir, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("sqlite: data directory %s is not accessible: %w", dir, err)
	case !fi.IsDir():
		return fmt.Errorf("sqlite: data directory %s is not a directory", dir)
	}
	return nil
}

// checkFile creates the database file (empty, 0600; SQLite makes its -wal
// and -shm files with the same mode) if there is none, and otherwise makes
// sure it is a readable, writable SQLite file before SQLite touches it.
func checkFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("sqlite: cannot create database file %s: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("sqlite: database file %s is not accessible: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("sqlite: database file %s is not a regular file", path)
	}
	f, err = os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("sqlite: database file %s must be readable and writable: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, 100)
	n, err := io.ReadFull(f, head)
	if n == 0 && errors.Is(err, io.EOF) {
		return nil // an empty file is an empty database, e.g. after a crash right after creating it
	}
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("sqlite: cannot read database file %s: %w", path, err)
	}
	if n < len(head) || !bytes.HasPrefix(head, sqliteHeader) {
		return fmt.Errorf("sqlite: %s is not an SQLite database (corrupt, or some other file); Rotor will not modify it", path)
	}
	return nil
}

// migrate applies the embedded migrations to path with goose, after making
// sure the database is Rotor's and not newer than this build. The caller
// holds the migration lock.
func migrate(ctx context.Context, path string, busy time.Duration) error {
	db, err := sql.Open("sqlite", dsn(path, busy, false))
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub)
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	sources := p.ListSources()
	known := sources[len(sources)-1].Version

	if err := checkOwner(ctx, db, path, known); err != nil {
		return err
	}
	// WAL lets readers run alongside the writer, and other processes with
	// them; the mode is stored in the file, so setting it once is enough.
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
		return migrateErr(path, "enable WAL", err)
	}
	if mode != "wal" {
		return fmt.Errorf("sqlite: database %s: cannot enable WAL mode (journal mode is %q)", path, mode)
	}
	if _, err := p.Up(ctx); err != nil {
		return migrateErr(path, "apply migrations", err)
	}
	return nil
}

// checkOwner refuses a database that holds something other than Rotor's
// schema, or Rotor's schema from a newer Rotor, before anything is written
// to it.
func checkOwner(ctx context.Context, db *sql.DB, path string, known int64) error {
	var appID int64
	if err := db.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return migrateErr(path, "read the database header", err)
	}
	rows, err := db.QueryContext(ctx, "SELECT name FROM sqlite_schema WHERE type = 'table'")
	if err != nil {
		return migrateErr(path, "read the schema", err)
	}
	var foreign, versioned bool
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return migrateErr(path, "read the schema", err)
		}
		switch name {
		case "goose_db_version":
			versioned = true
		case "sqlite_sequence": // made by goose's AUTOINCREMENT
		default:
			foreign = true
		}
	}
	if err := rows.Close(); err != nil {
		return migrateErr(path, "read the schema", err)
	}
	if err := rows.Err(); err != nil {
		return migrateErr(path, "read the schema", err)
	}
	if appID != applicationID && foreign {
		return fmt.Errorf("sqlite: %s is an SQLite database but not Rotor's; Rotor will not modify it", path)
	}
	if !versioned {
		return nil
	}
	var current sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT max(version_id) FROM goose_db_version WHERE is_applied").Scan(&current); err != nil {
		return migrateErr(path, "read the schema version", err)
	}
	if current.Int64 > known {
		return fmt.Errorf("sqlite: database %s has schema version %d, newer than this Rotor knows (%d); upgrade Rotor", path, current.Int64, known)
	}
	return nil
}

func migrateErr(path, what string, err error) error {
	switch {
	case isCorrupt(err):
		return fmt.Errorf("sqlite: database file %s is corrupt or not a database; Rotor will not modify it: %s: %w", path, what, err)
	case isBusy(err):
		return fmt.Errorf("sqlite: database %s stayed locked by another process: %s: %w", path, what, err)
	}
	return fmt.Errorf("sqlite: database %s: %s: %w", path, what, err)
}
