package resource

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// tokenCache remembers verified tokens so that a repeated token costs a map
// lookup instead of a signature check. It is keyed by the whole token string:
// a hit means the map compared every byte, never a hash or a prefix.
//
// It is split into shards, each under its own RWMutex, to keep parallel hits
// from contending on one lock. Each shard is bounded; when full it evicts one
// entry chosen by Go's randomised map iteration, which costs O(1) and needs no
// bookkeeping on the hit path.
type tokenCache struct {
	seed     maphash.Seed
	perShard int
	shards   [cacheShards]cacheShard
}

const cacheShards = 16

type cacheShard struct {
	mu     sync.RWMutex
	m      map[string]*cacheEntry
	hits   atomic.Uint64
	misses atomic.Uint64
	_      [40]byte // keep hot shards on separate cache lines
}

// cacheEntry is immutable once stored.
type cacheEntry struct {
	claims   Claims
	key      *verifyKey // the exact key that verified the token
	deadline int64      // exp + leeway, Unix nanoseconds
}

func newTokenCache(size int) *tokenCache {
	c := &tokenCache{seed: maphash.MakeSeed(), perShard: max(1, (size+cacheShards-1)/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*cacheEntry)
	}
	return c
}

func (c *tokenCache) shard(token string) *cacheShard {
	return &c.shards[maphash.String(c.seed, token)%cacheShards]
}

// get returns the entry for token, if any, and the shard that counts the
// hit or miss.
func (c *tokenCache) get(token string) (*cacheEntry, *cacheShard) {
	s := c.shard(token)
	s.mu.RLock()
	e := s.m[token]
	s.mu.RUnlock()
	return e, s
}

func (c *tokenCache) put(token string, e *cacheEntry) {
	s := c.shard(token)
	s.mu.Lock()
	if _, ok := s.m[token]; !ok && len(s.m) >= c.perShard {
		for k := range s.m {
			delete(s.m, k)
			break
		}
	}
	s.m[token] = e
	s.mu.Unlock()
}

func (c *tokenCache) remove(token string) {
	s := c.shard(token)
	s.mu.Lock()
	delete(s.m, token)
	s.mu.Unlock()
}

func (c *tokenCache) counts() (hits, misses uint64, entries int) {
	for i := range c.shards {
		s := &c.shards[i]
		hits += s.hits.Load()
		misses += s.misses.Load()
		s.mu.RLock()
		entries += len(s.m)
		s.mu.RUnlock()
	}
	return hits, misses, entries
}
