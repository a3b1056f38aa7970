package keys

import (
	"context"
	"slices"
	"sync"
	"time"
)

// maxPool bounds the spare keys kept per lane: no plan uses more than two.
const maxPool = 2

// pool holds keys generated ahead of the lane lock (RSA generation is too
// slow to do while holding it) until a plan inserts them. Keys taken out for
// one call are invisible to concurrent calls, so two operations of one
// Manager never try to insert the same key.
type pool struct {
	mu   sync.Mutex
	keys map[Alg][]Record // sealed, state next
}

// take removes and returns every spare key of alg.
func (p *pool) take(alg Alg) []Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	ks := p.keys[alg]
	delete(p.keys, alg)
	return ks
}

// giveBack returns the fresh keys a plan did not insert, up to maxPool.
func (p *pool) giveBack(alg Alg, fresh, inserted []Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range fresh {
		used := slices.ContainsFunc(inserted, func(r Record) bool { return r.KID == f.KID })
		if !used && len(p.keys[alg]) < maxPool {
			p.keys[alg] = append(p.keys[alg], f)
		}
	}
}

func (p *pool) size(alg Alg) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.keys[alg])
}

// fill generates keys of alg under keks until the pool holds at least
// min(n, maxPool). Generation runs unlocked, so concurrent fills may
// overshoot by a key or two, which giveBack's bound absorbs later.
func (p *pool) fill(ctx context.Context, alg Alg, n int, keks *KEKSet, now time.Time) error {
	for p.size(alg) < min(n, maxPool) {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := Generate(alg, keks, now)
		if err != nil {
			return err
		}
		p.mu.Lock()
		p.keys[alg] = append(p.keys[alg], r)
		p.mu.Unlock()
	}
	return nil
}
