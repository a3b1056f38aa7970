package dpop

import (
	"crypto/sha256"
	"sync"
	"time"
)

// ReplayCache remembers proof ids in memory until their proofs expire, for a
// server on its own (a resource server): a proof replayed to the same process
// inside its window is refused. It is bounded: when a shard is full of live
// entries, new proofs are refused (fail closed) until some expire, so memory
// never grows with traffic. Safe for concurrent use.
type ReplayCache struct {
	shards [replayShards]replayShard
	per    int
}

const replayShards = 16

type replayShard struct {
	mu sync.Mutex
	m  map[[32]byte]int64 // key → expiry, unix nanoseconds
}

// NewReplayCache returns a cache of about size entries.
func NewReplayCache(size int) *ReplayCache {
	c := &ReplayCache{per: max(size/replayShards, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[[32]byte]int64)
	}
	return c
}

// Use records the proof (its key's thumbprint and jti) until expires and
// reports whether it was new. False means a replay, or a cache full of live
// proofs.
func (c *ReplayCache) Use(jkt, jti string, expires, now time.Time) bool {
	h := sha256.New()
	h.Write([]byte(jkt))
	h.Write([]byte{0})
	h.Write([]byte(jti))
	var key [32]byte
	h.Sum(key[:0])
	s := &c.shards[key[0]%replayShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	t := now.UnixNano()
	if exp, ok := s.m[key]; ok && exp > t {
		return false
	}
	if len(s.m) >= c.per {
		for k, exp := range s.m {
			if exp <= t {
				delete(s.m, k)
			}
		}
		if len(s.m) >= c.per {
			return false
		}
	}
	s.m[key] = expires.UnixNano()
	return true
}

// Len is the number of entries, live or not yet swept.
func (c *ReplayCache) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
