package sqlite

import (
	"context"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/rotor-idp/rotor/idp"
)

// sqliteCode returns the extended SQLite result code of err, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// isBusy reports whether err means another connection held a lock past the
// busy timeout.
func isBusy(err error) bool {
	switch sqliteCode(err) & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

// isCorrupt reports whether err means the file is damaged or not a database.
func isCorrupt(err error) bool {
	switch sqliteCode(err) & 0xff {
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return true
	}
	return false
}

func isUnique(err error) bool {
	switch sqliteCode(err) {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return false
}

func isForeignKey(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// classifyErr turns an error from a store call into what the contracts promise:
// a caller's own error unchanged, ErrConflict, ErrUnavailable (with the
// context's error, if it ended), or an error that names the database file.
// Messages carry SQLite's text, which names tables and columns but never
// values, so no hash or key material can leak through them.
func (s *Store) classifyErr(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var ce callbackError
	if errors.As(err, &ce) {
		return ce.err
	}
	if errors.Is(err, idp.ErrNotFound) || errors.Is(err, idp.ErrConflict) || errors.Is(err, idp.ErrUnavailable) {
		return err // already ours, with its own message
	}
	unavailable := func(cause error) error {
		return fmt.Errorf("sqlite: %s: %w (%w)", op, idp.ErrUnavailable, cause)
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return unavailable(context.DeadlineExceeded)
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		return fmt.Errorf("sqlite: %s: %w", op, context.Canceled)
	case isBusy(err):
		return unavailable(fmt.Errorf("database %s is locked by another connection: %w", s.path, err))
	case isUnique(err):
		return fmt.Errorf("sqlite: %s: %w (%w)", op, idp.ErrConflict, err)
	case isCorrupt(err):
		return fmt.Errorf("sqlite: %s: database file %s is corrupt or not a database; Rotor will not modify it: %w", op, s.path, err)
	}
	return fmt.Errorf("sqlite: %s: %s: %w", op, s.path, err)
}
