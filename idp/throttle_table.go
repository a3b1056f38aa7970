package idp

import "time"

// table is a bounded set of token buckets in GCRA form (the generic cell
// rate algorithm of ITU-T I.371): a bucket is only the instant it will be
// full again ("full"), so a burst of B refilling over W holds W/B of debt
// per missing token, and a key is limited while its debt exceeds W − W/B
// (less than one token left). A key with no entry is full.
//
// Entries sit in a min-heap on full, so the root is the bucket nearest to
// full: full buckets carry no information and are pruned from the root,
// and when the table is at its limit a new key evicts the root unless even
// the root is limiting, in which case the new key is refused (see
// throttle.take). Nothing that is limiting is ever forgotten, and an attacker
// who wants a partly drained bucket forgotten must first drain every other
// entry further. Memory is the limit times about 45 bytes
// (BenchmarkThrottleTake).
//
// A table is not safe for concurrent use; throttle serialises it.
type table struct {
	burst    int
	perToken int64 // ns a token takes to come back: Window / burst
	limit    int
	index    map[uint64]int // key → position in heap
	heap     []entry
}

type entry struct {
	key  uint64
	full int64 // unix ns at which the bucket is full again
}

func newTable(burst int, window time.Duration, limit int) *table {
	return &table{
		burst: burst, perToken: max(1, int64(window)/int64(burst)), limit: limit,
		index: make(map[uint64]int),
	}
}

// maxDebt is the most debt a bucket may carry and still admit an attempt:
// one token must be left.
func (t *table) maxDebt() int64 { return int64(t.burst-1) * t.perToken }

// debt is how far key's bucket is from full at now, in ns.
func (t *table) debt(key uint64, now int64) int64 {
	i, ok := t.index[key]
	if !ok {
		return 0
	}
	return max(0, t.heap[i].full-now)
}

// wait returns how long key must wait before it may spend a token; 0 if it
// may now. A new key in a table whose every entry is limiting must wait for
// the root to stop limiting, since it cannot be tracked before then.
func (t *table) wait(key uint64, now int64) time.Duration {
	d := t.debt(key, now)
	if _, ok := t.index[key]; !ok && len(t.heap) >= t.limit && len(t.heap) > 0 {
		d = max(0, t.heap[0].full-now)
	}
	return time.Duration(max(0, d-t.maxDebt()))
}

// charge takes n tokens from key's bucket; the caller checked wait. A
// bucket never carries more than its admission limit plus n tokens of debt.
func (t *table) charge(key uint64, n int, now int64) {
	t.prune(now)
	cost := int64(n) * t.perToken
	if i, ok := t.index[key]; ok {
		t.heap[i].full = max(t.heap[i].full, now) + cost
		t.down(i)
		return
	}
	if len(t.heap) >= t.limit {
		t.removeAt(0) // nearest to full; wait made sure it is not limiting
	}
	t.heap = append(t.heap, entry{key: key, full: now + cost})
	t.index[key] = len(t.heap) - 1
	t.up(len(t.heap) - 1)
}

// refund gives n tokens back to key's bucket, forgetting it once full.
func (t *table) refund(key uint64, n int, now int64) {
	i, ok := t.index[key]
	if !ok {
		return // forgotten while full: nothing to give back
	}
	t.heap[i].full -= int64(n) * t.perToken
	if t.heap[i].full <= now {
		t.removeAt(i)
		return
	}
	t.up(i)
}

// prune forgets a couple of full buckets, so the table tracks roughly the
// keys that failed within the last Window rather than growing to its limit.
func (t *table) prune(now int64) {
	for range 2 {
		if len(t.heap) == 0 || t.heap[0].full > now {
			return
		}
		t.removeAt(0)
	}
}

func (t *table) removeAt(i int) {
	last := len(t.heap) - 1
	delete(t.index, t.heap[i].key)
	if i != last {
		t.heap[i] = t.heap[last]
		t.index[t.heap[i].key] = i
	}
	t.heap = t.heap[:last]
	if i != last {
		t.down(i)
		t.up(i)
	}
}

func (t *table) swap(i, j int) {
	t.heap[i], t.heap[j] = t.heap[j], t.heap[i]
	t.index[t.heap[i].key] = i
	t.index[t.heap[j].key] = j
}

func (t *table) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if t.heap[p].full <= t.heap[i].full {
			return
		}
		t.swap(i, p)
		i = p
	}
}

func (t *table) down(i int) {
	for {
		l, small := 2*i+1, i
		if l < len(t.heap) && t.heap[l].full < t.heap[small].full {
			small = l
		}
		if r := l + 1; r < len(t.heap) && t.heap[r].full < t.heap[small].full {
			small = r
		}
		if small == i {
			return
		}
		t.swap(i, small)
		i = small
	}
}
