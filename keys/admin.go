package keys

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// This file holds the admin operations (rotor keys …) and their reports.

// Rotation reports what Manager.Rotate did.
type Rotation struct {
	Alg     Alg    `json:"alg"`
	Retired string `json:"retired_kid,omitempty"` // the old current key, now retired
	Current string `json:"current_kid"`           // the old next key, now signing
	Next    string `json:"next_kid"`              // the fresh next key
	// NextSignableAt is when the fresh next key may sign, so the earliest
	// time the lane can be rotated again without force.
	NextSignableAt time.Time `json:"next_signable_at"`
	Forced         bool      `json:"forced"`
	At             time.Time `json:"at"`
}

// Rotate promotes lane alg's next key to current now, retires the current key
// and publishes a fresh next, in one transaction. Unless force, the next
// key's SignableAt stamp must have passed (*NotPropagatedError): the stamp
// decides, not this Manager's Policy, so an admin command with other timing
// settings than the servers' judges as they do. It compares the current key
// it read before locking with the one it finds under the lock, so of two
// concurrent rotations one rotates and the other fails with
// ErrConcurrentRotation, even with force.
func (m *Manager) Rotate(ctx context.Context, alg Alg, force bool) (Rotation, error) {
	if !slices.Contains(m.cfg.Algs, alg) {
		return Rotation{}, fmt.Errorf("keys: %s is not an enabled signing algorithm", alg)
	}
	recs, err := m.records(ctx)
	if err != nil {
		return Rotation{}, err
	}
	cur := currentKID(recs, alg)
	if cur == "" {
		// Never started: make the lane, then rotate it like any other.
		if _, err := m.update(ctx, alg, Op{Kind: Maintain}); err != nil {
			return Rotation{}, err
		}
		if recs, err = m.records(ctx); err != nil {
			return Rotation{}, err
		}
		cur = currentKID(recs, alg)
	}
	if err := m.fillPool(ctx, alg, 1); err != nil {
		return Rotation{}, err
	}
	out, err := m.update(ctx, alg, Op{Kind: Rotate, Force: force, ExpectCurrent: cur})
	if err != nil {
		if errors.Is(err, ErrConcurrentRotation) {
			m.reloadOrLog(ctx)
		}
		return Rotation{}, err
	}
	// The rotation has committed; a failed reload here is only logged, and
	// Run's next poll retries it.
	m.reloadOrLog(ctx)
	rot := Rotation{Alg: alg, Retired: out.Retired, Current: out.Activated, Next: out.Published, Forced: force, At: out.At}
	if i := slices.IndexFunc(out.Change.Insert, func(r Record) bool { return r.KID == out.Published }); i >= 0 {
		rot.NextSignableAt = out.Change.Insert[i].SignableAt
	}
	return rot, nil
}

// currentKID is the lane's current key in recs ("" if none; the newest if a
// corrupt lane has several).
func currentKID(recs []Record, alg Alg) string {
	var cur *Record
	for i, r := range recs {
		if r.Alg == alg && r.State == StateCurrent && (cur == nil || r.ActivatedAt.After(cur.ActivatedAt)) {
			cur = &recs[i]
		}
	}
	if cur == nil {
		return ""
	}
	return cur.KID
}

func (m *Manager) records(ctx context.Context) ([]Record, error) {
	recs, err := m.store.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: loading key ring: %w", err)
	}
	return recs, nil
}

// Revocation reports what Manager.Revoke did.
type Revocation struct {
	KID            string    `json:"kid"`
	Alg            Alg       `json:"alg"`
	PreviousState  State     `json:"previous_state"`
	AlreadyRevoked bool      `json:"already_revoked,omitempty"`
	Current        string    `json:"current_kid,omitempty"` // promoted because the revoked key was current
	Next           string    `json:"next_kid,omitempty"`    // published to replace a revoked next
	At             time.Time `json:"at"`
}

// Revoke unpublishes a key at once (compromise). A revoked current key is
// replaced by the lane's next key without waiting for its SignableAt, and a
// fresh next is published; revoking a revoked key changes nothing. Keys of
// any lane can be revoked, enabled or not.
func (m *Manager) Revoke(ctx context.Context, kid string) (Revocation, error) {
	recs, err := m.records(ctx)
	if err != nil {
		return Revocation{}, err
	}
	i := slices.IndexFunc(recs, func(r Record) bool { return r.KID == kid })
	if i < 0 {
		return Revocation{}, fmt.Errorf("%w: %s", ErrKeyNotFound, kid)
	}
	alg := recs[i].Alg
	if s := recs[i].State; s == StateCurrent || s == StateNext {
		if err := m.fillPool(ctx, alg, 1); err != nil {
			return Revocation{}, err
		}
	}
	out, err := m.update(ctx, alg, Op{Kind: Revoke, KID: kid})
	if err != nil {
		return Revocation{}, err
	}
	m.reloadOrLog(ctx)
	// The report describes the key as the lock found it, which may differ
	// from the read above if another process changed the lane in between.
	rev := Revocation{KID: kid, Alg: alg, PreviousState: out.Previous.State, Current: out.Activated, Next: out.Published, At: out.At}
	if out.Revoked == "" {
		rev.AlreadyRevoked, rev.At = true, out.Previous.RevokedAt
	}
	return rev, nil
}

// KeyInfo describes a stored key for listings: no private material.
type KeyInfo struct {
	KID         string    `json:"kid"`
	Alg         Alg       `json:"alg"`
	State       State     `json:"state"`
	Published   bool      `json:"published"`
	KEKID       string    `json:"kek_id"`
	CreatedAt   time.Time `json:"created_at"`
	ActivatedAt time.Time `json:"activated_at,omitzero"`
	RetiredAt   time.Time `json:"retired_at,omitzero"`
	RevokedAt   time.Time `json:"revoked_at,omitzero"`
	// SignableAt is, for a next key, when it may sign (its stamp, or for a
	// key published before stamps, CreatedAt + this Manager's propagation
	// delay).
	SignableAt time.Time `json:"signable_at,omitzero"`
	// DeleteAfter is when Maintain deletes a retired or revoked key (and
	// unpublishes a retired one).
	DeleteAfter time.Time `json:"delete_after,omitzero"`
}

// List returns every stored key, by lane, then current, next, retired,
// revoked, newest first.
func (m *Manager) List(ctx context.Context) ([]KeyInfo, error) {
	recs, err := m.records(ctx)
	if err != nil {
		return nil, err
	}
	now := m.now()
	slices.SortFunc(recs, jwksOrder)
	out := make([]KeyInfo, 0, len(recs))
	for _, r := range recs {
		k := KeyInfo{
			KID: r.KID, Alg: r.Alg, State: r.State, KEKID: r.KEKID,
			CreatedAt: r.CreatedAt, ActivatedAt: r.ActivatedAt, RetiredAt: r.RetiredAt, RevokedAt: r.RevokedAt,
		}
		switch r.State {
		case StateNext:
			k.SignableAt = r.signableAt(m.cfg.Policy)
			k.Published = true
		case StateRetired:
			k.DeleteAfter = r.RetiredAt.Add(m.cfg.Policy.RetireAfter)
			k.Published = k.DeleteAfter.After(now)
		case StateRevoked:
			k.DeleteAfter = r.RevokedAt.Add(m.cfg.Policy.RetireAfter)
		default:
			k.Published = true
		}
		out = append(out, k)
	}
	return out, nil
}

// Rewrap re-seals under the primary KEK every key sealed under another one,
// and returns how many it moved. Once it reports 0 on a ring, the other KEKs
// can be removed from the configuration. Keys that can no longer sign
// (retired, revoked) and whose KEK is already gone are skipped with a
// warning: nobody will ever need to open them.
//
// It runs safely beside rotations and revocations: RewrapKeys replaces only
// the sealed key and its KEK id, never state or times, and skips keys
// deleted meanwhile; a key published meanwhile is sealed under the primary
// KEK already, or moved by the next Rewrap.
func (m *Manager) Rewrap(ctx context.Context) (int, error) {
	recs, err := m.records(ctx)
	if err != nil {
		return 0, err
	}
	primary := m.cfg.KEKs.Primary()
	var out []Record
	for _, r := range recs {
		if r.KEKID == primary {
			continue
		}
		der, err := m.cfg.KEKs.open(r.KID, r.KEKID, r.Sealed)
		if err != nil {
			if r.State == StateRetired || r.State == StateRevoked {
				m.log.Warn("keys: not rewrapping a key that can no longer sign", "kid", r.KID, "state", string(r.State), "err", err)
				continue
			}
			return 0, err
		}
		sealed, kekID, err := m.cfg.KEKs.seal(r.KID, der)
		clear(der)
		if err != nil {
			return 0, err
		}
		r.Sealed, r.KEKID = sealed, kekID
		out = append(out, r)
	}
	if len(out) == 0 {
		return 0, nil
	}
	if err := m.store.RewrapKeys(ctx, out); err != nil {
		return 0, fmt.Errorf("keys: rewrapping keys: %w", err)
	}
	m.log.Info("keys: keys re-sealed under the primary key-encryption key", "count", len(out), "kek_id", primary)
	m.emit(Event{Kind: EventRewrapped, Trigger: TriggerAdmin, At: m.now(), Count: len(out)})
	m.reloadOrLog(ctx)
	return len(out), nil
}
