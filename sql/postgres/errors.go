package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rotor-idp/rotor/idp"
)

// Error is the error the store returns for database failures. Its message
// names the operation and the cause but never a value: a server error's
// detail ("Key (name)=(alice) …", "Failing row contains …") can quote a
// password or token hash, so only its SQLSTATE, constraint and, for
// non-data errors, its message are shown. errors.Is matches Kind (one of
// idp.ErrNotFound, idp.ErrConflict, idp.ErrUnavailable, or nil) and
// errors.As reaches the cause (for example *pgconn.PgError).
type Error struct {
	Op    string // what the store was doing, e.g. "create user"
	Kind  error
	Cause error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("postgres: ")
	b.WriteString(e.Op)
	if e.Kind != nil {
		b.WriteString(": ")
		b.WriteString(e.Kind.Error())
	}
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(describe(e.Cause))
	}
	return b.String()
}

// Unwrap returns Kind and Cause.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	return errs
}

// describe renders a cause without the values a server error may quote.
func describe(err error) string {
	pgErr, ok := errors.AsType[*pgconn.PgError](err)
	if !ok {
		return err.Error()
	}
	s := "SQLSTATE " + pgErr.Code
	if pgErr.ConstraintName != "" {
		s += ", constraint " + pgErr.ConstraintName
	}
	// Class 22 (data exception) messages quote the offending input.
	if !strings.HasPrefix(pgErr.Code, "22") {
		s += ": " + pgErr.Message
	}
	return s
}

func newError(op string, kind, cause error) error { return &Error{Op: op, Kind: kind, Cause: cause} }

// mapErr classifies err: missing rows are idp.ErrNotFound, unique and
// exclusion violations idp.ErrConflict, and anything that means "the
// database cannot be reached right now" idp.ErrUnavailable.
func mapErr(op string, err error) error {
	if _, done := errors.AsType[*Error](err); done || err == nil {
		return err
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return newError(op, idp.ErrNotFound, nil)
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch {
		case pgErr.Code == "23505" || pgErr.Code == "23P01": // unique_violation, exclusion_violation
			return newError(op, idp.ErrConflict, err)
		case unavailableCode(pgErr.Code):
			return newError(op, idp.ErrUnavailable, err)
		}
		return newError(op, nil, err)
	}
	if errors.Is(err, context.Canceled) {
		// The caller gave up; the database may be fine.
		return newError(op, nil, err)
	}
	if unavailable(err) {
		return newError(op, idp.ErrUnavailable, err)
	}
	return newError(op, nil, err)
}

// unavailableCode reports SQLSTATEs that mean the server cannot serve us
// right now, as opposed to a problem with the request.
func unavailableCode(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"): // connection exception
		return true
	case strings.HasPrefix(code, "53"): // insufficient resources, e.g. too_many_connections
		return true
	}
	switch code {
	case "57P01", "57P02", "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now (starting up / shutting down)
		return true
	case "57014": // query_canceled: statement_timeout
		return true
	case "55P03": // lock_not_available: lock_timeout
		return true
	case "40001", "40P01": // serialization_failure, deadlock_detected, still failing after retries
		return true
	case "25P03": // idle_in_transaction_session_timeout
		return true
	}
	return false
}

// unavailable reports client-side errors that mean the connection failed or
// timed out.
func unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
		return true
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return true
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	for _, target := range []error{
		pgconn.ErrConnClosed, io.EOF, io.ErrUnexpectedEOF, net.ErrClosed,
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE, syscall.ECONNABORTED,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	return pgconn.SafeToRetry(err)
}

// retryable reports errors after which running the whole transaction again
// is safe and may succeed.
func retryable(err error) bool {
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		return pgErr.Code == "40001" || pgErr.Code == "40P01"
	}
	// Failed before anything reached the server, e.g. on a pooled connection
	// that died while idle (a restarted server).
	return pgconn.SafeToRetry(err)
}

// isForeignKey reports a foreign_key_violation: an insert that names a
// client or user that does not exist.
func isForeignKey(err error) bool {
	pgErr, ok := errors.AsType[*pgconn.PgError](err)
	return ok && pgErr.Code == "23503"
}

// errorf makes an error with no database cause, e.g. a change that names
// the wrong lane.
func errorf(op string, kind error, format string, args ...any) error {
	return newError(op, kind, fmt.Errorf(format, args...))
}

// StoreOp names the operation that failed, a fixed string: what metrics
// count store errors by.
func (e *Error) StoreOp() string { return e.Op }
