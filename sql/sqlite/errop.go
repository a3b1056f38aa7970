package sqlite

import (
	"context"
	"errors"

	"github.com/rotor-idp/rotor/idp"
)

// opError is a store failure that names the operation it failed in, for
// metrics (StoreOp); its message and what it matches are the cause's.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string   { return e.err.Error() }
func (e *opError) Unwrap() error   { return e.err }
func (e *opError) StoreOp() string { return e.op }

// mapErr is classifyErr, with the database's own failures marked with op.
// A caller's error, and an error the store already classified, come back
// unchanged.
func (s *Store) mapErr(ctx context.Context, op string, err error) error {
	mapped := s.classifyErr(ctx, op, err)
	if mapped == nil || mapped == err || errors.Is(mapped, idp.ErrNotFound) || errors.Is(mapped, idp.ErrConflict) {
		return mapped
	}
	if _, ok := errors.AsType[callbackError](err); ok {
		return mapped
	}
	return &opError{op: op, err: mapped}
}
