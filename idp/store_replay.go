package idp

import (
	"context"
	"time"
)

// ReplayStore remembers the JWT ids of client assertions (RFC 7523 §3 item 7)
// and DPoP proofs (RFC 9449 §11.1) until they would be refused anyway, so a
// captured one cannot be used twice, on any replica. Implementations are safe
// for concurrent use by many goroutines and processes.
type ReplayStore interface {
	// UseOnce records key (a 32-byte hash naming the JWT id in its scope)
	// until expires, and reports whether this call was the first to do so.
	// A key whose record expired before now counts as new again. The check
	// and the record are one statement: of any number of concurrent calls
	// with one key, from any process, exactly one gets true.
	UseOnce(ctx context.Context, key []byte, expires, now time.Time) (bool, error)

	// PurgeReplay deletes the records that expired before cutoff and
	// returns how many it deleted.
	PurgeReplay(ctx context.Context, cutoff time.Time) (int, error)
}
