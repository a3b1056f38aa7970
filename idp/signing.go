package idp

// signQueue bounds how many access tokens are signed at once and makes the
// rest wait their turn in the order they asked.
//
// Signing is the one long CPU-bound step of the token endpoint: an RSA-2048
// signature is a millisecond of CPU, several times everything else a
// request costs. Left to the Go scheduler, a saturated server signs for
// whichever goroutine a processor happens to pick next — from its own run
// queue, a network poll that hands back the newest arrivals first, or the
// global queue where a goroutine preempted half-way through a signature
// goes to the back — so a few requests wait many times longer than the
// rest. With no more signers than processors and the others parked on one
// channel, signatures are handed out first come, first served, and a
// goroutine that waits for its turn is not in any run queue meanwhile.
type signQueue struct {
	slots chan struct{}
}

// newSignQueue returns a queue of n slots; the server gives it GOMAXPROCS,
// as many as can sign at once.
func newSignQueue(n int) *signQueue {
	return &signQueue{slots: make(chan struct{}, max(n, 1))}
}

// acquire waits for a signing slot. Goroutines blocked sending on a channel
// are woken first come, first served: that is the queue. The wait is bounded
// by the signatures queued ahead, each a millisecond at most.
func (q *signQueue) acquire() { q.slots <- struct{}{} }

func (q *signQueue) release() { <-q.slots }
