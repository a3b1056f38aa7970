package keys

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Plan decides what op does to one lane at time now. It is a pure function:
// the lane is what the store holds under the lane lock, and the result's
// Change is what to apply in the same transaction.
//
// fresh are keys from Generate for the lane's algorithm that Plan may insert,
// in order, as new keys; it sets their state and times. Generating keys is
// slow (RSA) and random, so the caller does it before taking the lock and
// passes them in. Plan uses at most two; when it needs more than it was given
// it returns a *NeedFreshError and the caller generates more and retries.
// Unused fresh keys can be kept for a later call.
//
// A key Plan publishes as next gets SignableAt = now + a propagation delay,
// and no key is promoted before its SignableAt except to replace a revoked
// current key, when the lane has no current key at all, or with Op.Force.
// Maintain, which servers run, stamps p.PropagationDelay: that is how a
// change of the servers' timing takes effect. It also stamps a next key
// published before stamps existed, with CreatedAt + p.PropagationDelay, the
// time it would have judged the key by anyway. Rotate and Revoke, which
// admin commands run possibly without the servers' timing flags, keep the
// delay of the lane's newest stamped key and fall back to
// p.PropagationDelay only when the lane has none.
//
// After every successful plan the lane has at most one current key and
// exactly one next key (DESIGN.md, "Keys: lifecycle"), and no key has moved
// backwards in next → current → retired, or → revoked.
func Plan(lane []Record, now time.Time, p Policy, op Op, fresh []Record) (Outcome, error) {
	pl, err := newPlanner(lane, now, fresh)
	if err != nil {
		return Outcome{}, err
	}
	pl.delay = p.PropagationDelay
	if op.Kind != Maintain {
		pl.delay = laneDelay(lane, p)
	}
	switch op.Kind {
	case Maintain:
		pl.normalize()
		pl.stampUnstamped(p)
		pl.maybeRotate(p)
		pl.deleteExpired(lane, p)
	case Rotate:
		if err := pl.rotate(p, op); err != nil {
			return Outcome{}, err
		}
	case Revoke:
		if err := pl.revoke(op.KID); err != nil {
			return Outcome{}, err
		}
	default:
		return Outcome{}, fmt.Errorf("keys: unknown operation %v", op.Kind)
	}
	if pl.used > len(fresh) {
		return Outcome{}, &NeedFreshError{Need: pl.used, Have: len(fresh)}
	}
	pl.out.Change = pl.change()
	return pl.out, nil
}

// laneDelay is the propagation delay the lane's newest key published as next
// was stamped with, or p's if no key carries a stamp. Keys made current at
// once (SignableAt = CreatedAt) say nothing about the delay.
func laneDelay(lane []Record, p Policy) time.Duration {
	var newest *Record
	for i, r := range lane {
		if r.SignableAt.After(r.CreatedAt) && (newest == nil || r.CreatedAt.After(newest.CreatedAt)) {
			newest = &lane[i]
		}
	}
	if newest == nil {
		return p.PropagationDelay
	}
	return newest.SignableAt.Sub(newest.CreatedAt)
}

// planner works on a copy of the lane, records what changed, and turns that
// into a Change at the end.
type planner struct {
	now     time.Time
	alg     Alg
	delay   time.Duration // stamped on the keys it publishes as next
	keys    []*Record     // lane copy plus inserted keys
	orig    map[string]Record
	fresh   []Record
	used    int // fresh keys consumed (may exceed len(fresh): then Plan fails)
	inserts []*Record
	deletes []string
	out     Outcome
}

func newPlanner(lane []Record, now time.Time, fresh []Record) (*planner, error) {
	pl := &planner{now: now, orig: make(map[string]Record, len(lane)), fresh: fresh, out: Outcome{At: now}}
	for _, r := range lane {
		if !r.Alg.Valid() {
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

// newKey takes the next fresh key, or counts the shortfall. A next key may
// sign after the planner's delay; a key made current signs at once.
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
	r.SignableAt = pl.now.Add(pl.delay)
	switch s {
	case StateCurrent:
		r.ActivatedAt, r.SignableAt = pl.now, pl.now
		pl.out.Activated = r.KID
	case StateNext:
		pl.out.Published = r.KID
	}
	pl.keys = append(pl.keys, &r)
	pl.inserts = append(pl.inserts, &r)
	return &r
}

func (pl *planner) promote(k *Record) {
	k.State = StateCurrent
	k.ActivatedAt = pl.now
	pl.out.Activated = k.KID
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
			// No key signs: promote without waiting for SignableAt, since
			// the alternative is no tokens at all.
			pl.promote(next)
		} else {
			pl.newKey(StateCurrent)
		}
	}
	if pl.one(StateNext) == nil {
		pl.newKey(StateNext)
	}
}

// stampUnstamped stamps next keys that have no SignableAt (published before
// stamps existed) with the time this replica would judge them by. A stamp,
// once set, never moves.
func (pl *planner) stampUnstamped(p Policy) {
	for _, k := range pl.in(StateNext) {
		if k.SignableAt.IsZero() {
			k.SignableAt = k.signableAt(p)
		}
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
	if cur.ActivatedAt.Add(p.RotationPeriod).After(pl.now) || next.signableAt(p).After(pl.now) {
		return // not due, or next not yet known to every cache: wait
	}
	pl.retire(cur)
	pl.out.Retired = cur.KID
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
		if err := pl.checkSignable(next, p); err != nil {
			return err
		}
	}
	if cur != nil {
		pl.retire(cur)
		pl.out.Retired = cur.KID
	}
	if next != nil {
		pl.promote(next)
	}
	// Creates the fresh next; with --force and no next, also a fresh current.
	pl.normalize()
	return nil
}

// checkSignable refuses to promote next before its SignableAt.
func (pl *planner) checkSignable(next *Record, p Policy) error {
	if next == nil {
		return &NotPropagatedError{Alg: pl.alg, Delay: p.PropagationDelay}
	}
	at := next.signableAt(p)
	if pl.now.Before(at) {
		return &NotPropagatedError{Alg: pl.alg, KID: next.KID, Published: pl.now.Sub(next.CreatedAt), Delay: at.Sub(next.CreatedAt), SignableAt: at}
	}
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
	pl.out.Previous = *k
	if k.State == StateRevoked {
		return nil
	}
	k.State = StateRevoked
	k.RevokedAt = pl.now
	pl.out.Revoked = kid
	// A revoked current is replaced by next at once, without waiting for its
	// SignableAt: a compromised key must stop signing now, and next is at
	// least published. A revoked next is replaced by a fresh one.
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
		if o.State != k.State || !o.ActivatedAt.Equal(k.ActivatedAt) || !o.RetiredAt.Equal(k.RetiredAt) || !o.RevokedAt.Equal(k.RevokedAt) || !o.SignableAt.Equal(k.SignableAt) {
			c.Update = append(c.Update, *k)
		}
	}
	slices.SortFunc(c.Insert, func(a, b Record) int { return cmp.Compare(a.KID, b.KID) })
	slices.SortFunc(c.Update, func(a, b Record) int { return cmp.Compare(a.KID, b.KID) })
	c.Delete = pl.deletes
	return c
}
