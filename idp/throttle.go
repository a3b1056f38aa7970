package idp

import (
	"hash/maphash"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// ThrottleConfig bounds failed password logins (SECURITY.md, "Password
// login"). Every bucket holds a burst of attempts and refills at that burst
// per Window; an attempt is taken before any hash runs and given back when
// the login succeeds.
type ThrottleConfig struct {
	// AccountBurst is the strict limit: attempts at one account from one
	// client address (default 10). An empty bucket answers 429.
	AccountBurst int
	// AddressBurst limits one client address over all accounts, against
	// password spraying (default 100). An empty bucket answers 429.
	AddressBurst int
	// AccountCeiling is the looser limit on one account from all addresses
	// together (default 10 × AccountBurst). It never refuses: while it is
	// empty, a failed attempt costs its account+address bucket a whole
	// burst, so each address gets one guess per Window instead of
	// AccountBurst, and an address that has not been failing still gets in.
	AccountCeiling int
	Window         time.Duration // time for an empty bucket to refill (default 15m)
	// MaxTrackedKey bounds each of the three tables of buckets (default
	// 100000, a few MiB each); see table for what happens when one is full.
	MaxTrackedKey int
}

func (c ThrottleConfig) withDefaults() ThrottleConfig {
	if c.AccountBurst <= 0 {
		c.AccountBurst = 10
	}
	if c.AddressBurst <= 0 {
		c.AddressBurst = 100
	}
	if c.AccountCeiling <= 0 {
		c.AccountCeiling = 10 * c.AccountBurst
	}
	if c.Window <= 0 {
		c.Window = 15 * time.Minute
	}
	if c.MaxTrackedKey <= 0 {
		c.MaxTrackedKey = 100_000
	}
	return c
}

// throttle is the brute-force throttle of every password sign-in. Its three
// tables sit behind one mutex, so an attempt is taken from every bucket at
// once or from none: N parallel attempts never get past more than the
// buckets hold, because checking a bucket and charging it cannot
// interleave with another attempt.
type throttle struct {
	mu      sync.Mutex
	seed    maphash.Seed
	pair    *table // account + client address: the strict limit
	address *table // client address over all accounts: spraying
	account *table // account over all addresses: the ceiling that only slows
}

// attempt is what take charged, so that giveBack returns exactly that.
type attempt struct {
	pair, address, account uint64 // bucket keys
	pairCost               int    // 1, or a whole burst while the account is under attack
	ceiling                bool   // a token was taken from the account ceiling
	refused                string // on a refusal, the empty bucket: "account" or "address"
}

// throttleKey names a bucket: an account (lower-cased, so case does not open
// a new bucket), an address block, or both.
type throttleKey struct {
	account string
	block   netip.Prefix
}

func newThrottle(c ThrottleConfig) *throttle {
	return &throttle{
		seed:    maphash.MakeSeed(),
		pair:    newTable(c.AccountBurst, c.Window, c.MaxTrackedKey),
		address: newTable(c.AddressBurst, c.Window, c.MaxTrackedKey),
		account: newTable(c.AccountCeiling, c.Window, c.MaxTrackedKey),
	}
}

// addressBlock is the unit of address throttling: an IPv4 address, or the
// /64 of an IPv6 one, since a single host usually owns a whole /64. Requests
// whose address is unknown share one bucket.
func addressBlock(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	switch {
	case a.Is4():
		return netip.PrefixFrom(a, 32)
	case a.Is6():
		p, _ := a.Prefix(64)
		return p
	}
	return netip.Prefix{}
}

// take takes one attempt at account from addr out of every bucket, or
// returns how long the caller must wait (> 0) and takes nothing.
//
// The strict limit is keyed on account and address, so failures from one
// address never refuse the account's owner at another. The account ceiling
// never refuses: when it is empty the account is under attack from many
// addresses, and the attempt is charged a whole burst to its account+address
// bucket instead, which slows every address to one guess per window.
func (l *throttle) take(account string, addr netip.Addr, now time.Time) (attempt, time.Duration) {
	name, block := strings.ToLower(account), addressBlock(addr)
	a := attempt{
		pair:     maphash.Comparable(l.seed, throttleKey{name, block}),
		address:  maphash.Comparable(l.seed, throttleKey{block: block}),
		account:  maphash.Comparable(l.seed, throttleKey{account: name}),
		pairCost: 1,
	}
	n := now.UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	if wait := max(l.pair.wait(a.pair, n), l.address.wait(a.address, n)); wait > 0 {
		if l.pair.wait(a.pair, n) > 0 {
			return attempt{refused: "account"}, wait
		}
		return attempt{refused: "address"}, wait
	}
	a.ceiling = l.account.wait(a.account, n) == 0
	if !a.ceiling {
		a.pairCost = l.pair.burst
	}
	l.pair.charge(a.pair, a.pairCost, n)
	l.address.charge(a.address, 1, n)
	if a.ceiling {
		l.account.charge(a.account, 1, n)
	}
	return a, 0
}

// giveBack returns what take charged: the attempt succeeded.
func (l *throttle) giveBack(a attempt, now time.Time) {
	n := now.UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pair.refund(a.pair, a.pairCost, n)
	l.address.refund(a.address, 1, n)
	if a.ceiling {
		l.account.refund(a.account, 1, n)
	}
}
