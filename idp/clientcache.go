package idp

import (
	"sync"
	"time"
)

// clientCache keeps recently used clients for a short time, so the hot path
// of the token endpoint (client_credentials in particular) does not pay a
// database round trip per request. Only found clients are cached; a deleted
// client keeps working on a replica for at most the TTL.
type clientCache struct {
	ttl time.Duration
	mu  sync.RWMutex
	m   map[string]cachedClient
}

type cachedClient struct {
	c     Client
	until time.Time
}

// maxCachedClients bounds the cache; past it the cache starts over, which
// costs one lookup per client.
const maxCachedClients = 10_000

func newClientCache(ttl time.Duration) *clientCache {
	return &clientCache{ttl: ttl, m: make(map[string]cachedClient)}
}

func (cc *clientCache) get(id string, now time.Time) (Client, bool) {
	if cc.ttl <= 0 {
		return Client{}, false
	}
	cc.mu.RLock()
	e, ok := cc.m[id]
	cc.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return Client{}, false
	}
	return e.c, true
}

func (cc *clientCache) put(c Client, now time.Time) {
	if cc.ttl <= 0 {
		return
	}
	cc.mu.Lock()
	if len(cc.m) >= maxCachedClients {
		clear(cc.m)
	}
	cc.m[c.ID] = cachedClient{c: c, until: now.Add(cc.ttl)}
	cc.mu.Unlock()
}
