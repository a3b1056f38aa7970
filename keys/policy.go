package keys

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Policy is the timing of a lane's lifecycle (DESIGN.md, "Keys: lifecycle").
type Policy struct {
	// RotationPeriod is how long a key signs before Maintain rotates it; 0
	// disables automatic rotation (an admin can still rotate).
	RotationPeriod time.Duration
	// PropagationDelay (P) is how long a key must have been published as
	// next before it may sign, so that every JWKS cache holds it by then. It
	// must be at least MinPropagationDelay(JWKS max-age, poll interval).
	PropagationDelay time.Duration
	// RetireAfter is how long a retired key stays published: long enough for
	// every token it signed to expire and for caches to have seen that, i.e.
	// max access-token TTL + leeway + JWKS max-age + poll interval. Revoked
	// keys are deleted after the same period.
	RetireAfter time.Duration
}

// propagationMargin absorbs clock skew between replicas and the time a JWKS
// response spends in flight.
const propagationMargin = time.Second

// MinPropagationDelay is the smallest safe P: a resource server may hold a
// JWKS for jwksMaxAge, and a replica may serve a JWKS up to pollInterval old
// when it missed a notification. A key published for less could sign tokens
// that some cache cannot verify yet.
func MinPropagationDelay(jwksMaxAge, pollInterval time.Duration) time.Duration {
	return jwksMaxAge + pollInterval + propagationMargin
}

// Validate reports a policy that cannot work: negative durations, or no
// retirement window (which would unpublish a key while its tokens are live).
func (p Policy) Validate() error {
	switch {
	case p.RotationPeriod < 0, p.PropagationDelay < 0, p.RetireAfter < 0:
		return errors.New("keys: policy durations must not be negative")
	case p.RetireAfter == 0:
		return errors.New("keys: policy RetireAfter must be positive (max access-token TTL + leeway + JWKS max-age + poll interval)")
	}
	return nil
}

// OpKind is what a Plan call is asked to do.
type OpKind int

// The operations on a lane.
const (
	// Maintain bootstraps an empty lane, keeps a next key, rotates on
	// schedule and deletes expired keys. Every replica runs it; the lane
	// lock makes it idempotent.
	Maintain OpKind = iota
	// Rotate promotes next to current now (admin).
	Rotate
	// Revoke unpublishes Op.KID at once (admin, compromise).
	Revoke
)

func (k OpKind) String() string {
	switch k {
	case Maintain:
		return "maintain"
	case Rotate:
		return "rotate"
	case Revoke:
		return "revoke"
	}
	return fmt.Sprintf("OpKind(%d)", int(k))
}

// Op is one operation for Plan.
type Op struct {
	Kind OpKind
	// Force lets Rotate promote a next key that has not been published for
	// the propagation delay.
	Force bool
	// ExpectCurrent, if set, is the kid the caller saw as current before it
	// took the lane lock. Rotate fails with ErrConcurrentRotation when the
	// lane's current key is another one: someone else rotated meanwhile, and
	// rotating again would retire a key that has barely started signing.
	ExpectCurrent string
	// KID is the key to revoke.
	KID string
}

var (
	// ErrNotPropagated is wrapped by the *NotPropagatedError of a Rotate
	// whose next key has not been published for the propagation delay.
	ErrNotPropagated = errors.New("keys: next key has not been published long enough")
	// ErrConcurrentRotation means another process rotated the lane between
	// the caller's read and its lock.
	ErrConcurrentRotation = errors.New("keys: another process rotated the lane")
	// ErrKeyNotFound means there is no key with that kid.
	ErrKeyNotFound = errors.New("keys: no such key")
	// ErrNeedFresh is wrapped by the *NeedFreshError of a Plan that was given
	// fewer fresh keys than it needs.
	ErrNeedFresh = errors.New("keys: plan needs more fresh keys")
)

// NotPropagatedError is the refusal of a Rotate whose next key is too young.
type NotPropagatedError struct {
	Alg       Alg
	KID       string        // the next key; "" if the lane has none
	Published time.Duration // how long it has been published
	Delay     time.Duration // the propagation delay P
}

func (e *NotPropagatedError) Error() string {
	if e.KID == "" {
		return fmt.Sprintf("keys: the %s lane has no next key to promote; start a server (or wait for maintenance) to publish one, or use --force to promote a key no cache has seen", e.Alg)
	}
	wait := e.Delay - e.Published
	return fmt.Sprintf("keys: next %s key %s has been published for %v, less than the propagation delay %v; wait %v, or use --force (tokens it signs may fail verification at resource servers whose JWKS cache predates it)",
		e.Alg, e.KID, e.Published.Round(time.Second), e.Delay, wait.Round(time.Second))
}

// Wait is how long until the next key may sign.
func (e *NotPropagatedError) Wait() time.Duration { return e.Delay - e.Published }

// Unwrap makes errors.Is(err, ErrNotPropagated) hold.
func (e *NotPropagatedError) Unwrap() error { return ErrNotPropagated }

// NeedFreshError asks the caller of Plan for more fresh keys.
type NeedFreshError struct{ Need, Have int }

func (e *NeedFreshError) Error() string {
	return fmt.Sprintf("keys: plan needs %d fresh keys, was given %d", e.Need, e.Have)
}

// Unwrap makes errors.Is(err, ErrNeedFresh) hold.
func (e *NeedFreshError) Unwrap() error { return ErrNeedFresh }

// Plan decides what op does to one lane at time now. It is a pure function:
// the lane is what the store holds under the lane lock, and the result is the
// Change to apply in the same transaction.
//
// fresh are keys from Generate for the lane's algorithm that Plan may insert,
// in order, as new keys; it sets their state and times. Generating keys is
// slow (RSA) and random, so the caller does it before taking the lock and
// passes them in. Plan uses at most two; when it needs more than it was given
// it returns a *NeedFreshError and the caller generates more and retries.
// Unused fresh keys can be kept for a later call.
//
// After every successful plan the lane has at most one current key and
// exactly one next key (DESIGN.md, "Keys: lifecycle"), and no key has moved
// backwards in next → current → retired, or → revoked.
func Plan(lane []Record, now time.Time, p Policy, op Op, fresh []Record) (Change, error) {
	pl, err := newPlanner(lane, now, fresh)
	if err != nil {
		return Change{}, err
	}
	switch op.Kind {
	case Maintain:
		pl.normalize()
		pl.maybeRotate(p)
		pl.deleteExpired(lane, p)
	case Rotate:
		if err := pl.rotate(p, op); err != nil {
			return Change{}, err
		}
	case Revoke:
		if err := pl.revoke(op.KID); err != nil {
			return Change{}, err
		}
	default:
		return Change{}, fmt.Errorf("keys: unknown operation %v", op.Kind)
	}
	if pl.used > len(fresh) {
		return Change{}, &NeedFreshError{Need: pl.used, Have: len(fresh)}
	}
	return pl.change(), nil
}

// planner works on a copy of the lane, records what changed, and turns that
// into a Change at the end.
type planner struct {
	now     time.Time
	alg     Alg
	keys    []*Record // lane copy plus inserted keys
	orig    map[string]Record
	fresh   []Record
	used    int // fresh keys consumed (may exceed len(fresh): then Plan fails)
	inserts []*Record
	deletes []string
}

func newPlanner(lane []Record, now time.Time, fresh []Record) (*planner, error) {
	pl := &planner{now: now, orig: make(map[string]Record, len(lane)), fresh: fresh}
	for _, r := range lane {
		if !r.Alg.valid() {
			return nil, fmt.Errorf("keys: key %s has unsupported algorithm %q", r.KID, r.Alg)
		}
		if pl.alg == "" {
			pl.alg = r.Alg
		} else if r.Alg != pl.alg {
			return nil, fmt.Errorf("keys: lane mixes %s and %s keys", pl.alg, r.Alg)
		}
		if _, dup := pl.orig[r.KID]; dup {
			return nil, fmt.Errorf("keys: kid %s appears twice in the lane", r.KID)
		}
		pl.orig[r.KID] = r
		c := r
		pl.keys = append(pl.keys, &c)
	}
	for _, f := range fresh {
		if pl.alg == "" {
			pl.alg = f.Alg
		}
		if f.Alg != pl.alg {
			return nil, fmt.Errorf("keys: fresh %s key %s offered to the %s lane", f.Alg, f.KID, pl.alg)
		}
		if _, dup := pl.orig[f.KID]; dup {
			return nil, fmt.Errorf("keys: fresh key %s is already in the lane", f.KID)
		}
	}
	return pl, nil
}

// in returns the lane's keys in state s, oldest first (by the time that put
// them there, then kid, so that ties break the same way on every replica).
func (pl *planner) in(s State) []*Record {
	var out []*Record
	for _, k := range pl.keys {
		if k.State == s {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b *Record) int {
		ta, tb := a.CreatedAt, b.CreatedAt
		if s == StateCurrent {
			ta, tb = a.ActivatedAt, b.ActivatedAt
		}
		return cmp.Or(ta.Compare(tb), cmp.Compare(a.KID, b.KID))
	})
	return out
}

func (pl *planner) one(s State) *Record {
	if ks := pl.in(s); len(ks) > 0 {
		return ks[0]
	}
	return nil
}

// newKey takes the next fresh key, or counts the shortfall.
func (pl *planner) newKey(s State) *Record {
	i := pl.used
	pl.used++
	if i >= len(pl.fresh) {
		return nil
	}
	r := pl.fresh[i]
	r.State = s
	r.CreatedAt = pl.now
	r.ActivatedAt, r.RetiredAt, r.RevokedAt = time.Time{}, time.Time{}, time.Time{}
	if s == StateCurrent {
		r.ActivatedAt = pl.now
	}
	pl.keys = append(pl.keys, &r)
	pl.inserts = append(pl.inserts, &r)
	return &r
}

func (pl *planner) promote(k *Record) {
	k.State = StateCurrent
	k.ActivatedAt = pl.now
}

func (pl *planner) retire(k *Record) {
	k.State = StateRetired
	k.RetiredAt = pl.now
}

// normalize restores the lane invariants: one current (promoting next, or
// creating a key on first start), one next. More than one current or next
// cannot come from Plan; if a store ever holds them, the newest current and
// the oldest (longest published) next are kept and the others retired, which
// keeps them published until their tokens expire.
func (pl *planner) normalize() {
	if cur := pl.in(StateCurrent); len(cur) > 1 {
		for _, k := range cur[:len(cur)-1] {
			pl.retire(k)
		}
	}
	if next := pl.in(StateNext); len(next) > 1 {
		for _, k := range next[1:] {
			pl.retire(k)
		}
	}
	if pl.one(StateCurrent) == nil {
		if next := pl.one(StateNext); next != nil {
			// No key signs: promote without waiting for P, since the
			// alternative is no tokens at all.
			pl.promote(next)
		} else {
			pl.newKey(StateCurrent)
		}
	}
	if pl.one(StateNext) == nil {
		pl.newKey(StateNext)
	}
}

func (pl *planner) maybeRotate(p Policy) {
	if p.RotationPeriod <= 0 {
		return
	}
	cur, next := pl.one(StateCurrent), pl.one(StateNext)
	if cur == nil || next == nil {
		return // only when fresh keys ran short; Plan fails anyway
	}
	if cur.ActivatedAt.Add(p.RotationPeriod).After(pl.now) || next.CreatedAt.Add(p.PropagationDelay).After(pl.now) {
		return // not due, or next not yet known to every cache: wait
	}
	pl.retire(cur)
	pl.promote(next)
	pl.newKey(StateNext)
}

// deleteExpired drops keys that no token can need any more. Only keys that
// were already retired or revoked before this plan count, so a key is never
// updated and deleted in one Change.
func (pl *planner) deleteExpired(lane []Record, p Policy) {
	for _, r := range lane {
		var since time.Time
		switch r.State {
		case StateRetired:
			since = r.RetiredAt
		case StateRevoked:
			since = r.RevokedAt
		default:
			continue
		}
		if !since.Add(p.RetireAfter).After(pl.now) {
			pl.deletes = append(pl.deletes, r.KID)
		}
	}
	slices.Sort(pl.deletes)
	pl.keys = slices.DeleteFunc(pl.keys, func(k *Record) bool { return slices.Contains(pl.deletes, k.KID) })
}

func (pl *planner) rotate(p Policy, op Op) error {
	cur := pl.one(StateCurrent)
	curKID := ""
	if cur != nil {
		curKID = cur.KID
	}
	if op.ExpectCurrent != "" && op.ExpectCurrent != curKID {
		return fmt.Errorf("%w (%s): current key is now %s, was %s", ErrConcurrentRotation, pl.alg, curKID, op.ExpectCurrent)
	}
	next := pl.one(StateNext)
	if !op.Force {
		if next == nil {
			return &NotPropagatedError{Alg: pl.alg, Delay: p.PropagationDelay}
		}
		if age := pl.now.Sub(next.CreatedAt); age < p.PropagationDelay {
			return &NotPropagatedError{Alg: pl.alg, KID: next.KID, Published: age, Delay: p.PropagationDelay}
		}
	}
	if cur != nil {
		pl.retire(cur)
	}
	if next != nil {
		pl.promote(next)
	}
	// Creates the fresh next; with --force and no next, also a fresh current.
	pl.normalize()
	return nil
}

func (pl *planner) revoke(kid string) error {
	var k *Record
	for _, c := range pl.keys {
		if c.KID == kid {
			k = c
		}
	}
	if k == nil {
		return fmt.Errorf("%w: %s", ErrKeyNotFound, kid)
	}
	if k.State == StateRevoked {
		return nil
	}
	k.State = StateRevoked
	k.RevokedAt = pl.now
	// A revoked current is replaced by next at once, without waiting for P:
	// a compromised key must stop signing now, and next is at least
	// published. A revoked next is replaced by a fresh one.
	pl.normalize()
	return nil
}

// change lists inserts, then updates of keys whose state or times moved,
// then deletes, each sorted by kid so that plans compare stably.
func (pl *planner) change() Change {
	var c Change
	for _, r := range pl.inserts {
		c.Insert = append(c.Insert, *r)
	}
	for _, k := range pl.keys {
		o, ok := pl.orig[k.KID]
		if !ok {
			continue
		}
		if o.State != k.State || !o.ActivatedAt.Equal(k.ActivatedAt) || !o.RetiredAt.Equal(k.RetiredAt) || !o.RevokedAt.Equal(k.RevokedAt) {
			c.Update = append(c.Update, *k)
		}
	}
	slices.SortFunc(c.Insert, func(a, b Record) int { return cmp.Compare(a.KID, b.KID) })
	slices.SortFunc(c.Update, func(a, b Record) int { return cmp.Compare(a.KID, b.KID) })
	c.Delete = pl.deletes
	return c
}
