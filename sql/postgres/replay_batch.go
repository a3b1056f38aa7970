package postgres

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// maxReplayBatch bounds the keys of one statement.
const maxReplayBatch = 256

// replayBatcher groups replay-cache inserts (group commit) without a
// goroutine of its own and without waiting for company: a caller that finds
// no statement in flight sends its key at once; callers that arrive while
// one is in flight queue, and when it returns the first of them leads the
// next statement with every key queued by then. An idle server pays one
// round trip per key as before; a busy one pays one per batch. There is at
// most one statement in flight per Store, and that is what makes naming a
// leader safe: the named call stays first in the queue until it takes the
// queue, and no other batch can finish, and name it again, meanwhile.
type replayBatcher struct {
	mu      sync.Mutex
	queue   []*replayCall
	running bool // a statement is in flight or a leader has been named
}

// replayCall is one UseOnce waiting for its answer.
type replayCall struct {
	key          []byte
	expires, now time.Time

	wake  chan struct{} // one send: the answer is in, or lead is set
	lead  bool          // set under mu: this call sends the next batch
	taken bool          // set under mu: a batch has this call
	fresh bool
	err   error
}

// use records c's key and reports whether it was new.
func (b *replayBatcher) use(ctx context.Context, s *Store, c *replayCall) (bool, error) {
	b.mu.Lock()
	if !b.running {
		b.running = true
		c.taken = true
		b.mu.Unlock()
		b.send(ctx, s, []*replayCall{c})
		return c.fresh, c.err
	}
	c.wake = make(chan struct{}, 1)
	b.queue = append(b.queue, c)
	b.mu.Unlock()
	select {
	case <-c.wake:
	case <-ctx.Done():
		b.mu.Lock()
		if !c.taken { // still queued: leave the queue
			b.queue = slices.DeleteFunc(b.queue, func(q *replayCall) bool { return q == c })
			b.mu.Unlock()
			return false, ctx.Err()
		}
		b.mu.Unlock()
		<-c.wake // in a batch already, whose statement has its own timeout
	}
	if c.lead {
		b.lead(ctx, s)
	}
	return c.fresh, c.err
}

// lead takes the queued calls (at most maxReplayBatch) and sends them.
func (b *replayBatcher) lead(ctx context.Context, s *Store) {
	b.mu.Lock()
	n := min(len(b.queue), maxReplayBatch)
	batch := slices.Clone(b.queue[:n])
	b.queue = slices.Delete(b.queue, 0, n)
	for _, c := range batch {
		c.taken = true
	}
	b.mu.Unlock()
	b.send(ctx, s, batch)
}

// errUnanswered is the answer of calls whose statement panicked.
var errUnanswered = errors.New("postgres: use jti: the statement did not complete")

// send runs one statement for batch, answers its calls and hands the lead
// to the first queued call, if any. The statement is not cancelled with the
// sending caller's context: it answers the others too.
func (b *replayBatcher) send(ctx context.Context, s *Store, batch []*replayCall) {
	for _, c := range batch {
		c.err = errUnanswered
	}
	defer b.finish(batch) // even if the statement panics: nobody waits forever
	ctx = context.WithoutCancel(ctx)
	if len(batch) == 1 {
		batch[0].err = s.useOne(ctx, batch[0])
		return
	}
	err := s.useMany(ctx, distinct(batch))
	for _, c := range batch {
		c.err = err
	}
}

// finish answers batch's calls and names the next leader.
func (b *replayBatcher) finish(batch []*replayCall) {
	b.mu.Lock()
	var next *replayCall
	if len(b.queue) > 0 {
		next = b.queue[0]
		next.lead, next.taken = true, true
	} else {
		b.running = false
	}
	b.mu.Unlock()
	for _, c := range batch {
		if c.wake != nil {
			c.wake <- struct{}{}
		}
	}
	if next != nil {
		next.wake <- struct{}{}
	}
}

// distinct returns batch's calls with distinct keys, sorted by key. A
// repeated key's later calls are not returned: they answer false, since the
// earlier call of the same batch used the key first.
func distinct(batch []*replayCall) []*replayCall {
	sorted := slices.Clone(batch)
	slices.SortStableFunc(sorted, func(a, b *replayCall) int { return bytes.Compare(a.key, b.key) })
	return slices.CompactFunc(sorted, func(a, b *replayCall) bool { return bytes.Equal(a.key, b.key) })
}
