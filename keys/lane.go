package keys

import (
	"context"
	"errors"
	"fmt"
)

// Maintain runs the Maintain plan on every enabled lane (see Plan), logs what
// changed and reloads if anything did. Every replica may call it; the lane
// lock makes only the first caller change anything.
func (m *Manager) Maintain(ctx context.Context) error {
	var errs []error
	changed := false
	for _, a := range m.cfg.Algs {
		out, err := m.update(ctx, a, Op{Kind: Maintain})
		if err != nil {
			errs = append(errs, fmt.Errorf("keys: maintaining %s lane: %w", a, err))
			continue
		}
		changed = changed || !out.Change.Empty()
	}
	if changed {
		if err := m.Reload(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// update plans op under the lane lock, applies it, logs it and returns what
// it did. Fresh keys are generated outside the lock, because RSA key
// generation takes long enough to stall every other replica's lane
// operations: the first attempt uses what the pool holds, and a plan that
// needs more aborts its transaction, has them generated, and runs again.
func (m *Manager) update(ctx context.Context, alg Alg, op Op) (Outcome, error) {
	for range 3 {
		fresh := m.pool.take(alg)
		var applied Outcome
		err := m.store.UpdateLane(ctx, alg, func(lane []Record) (Change, error) {
			out, err := Plan(lane, m.now(), m.cfg.Policy, op, fresh)
			applied = out // UpdateLane may retry; the last call is what committed
			return out.Change, err
		})
		if err != nil {
			applied = Outcome{}
		}
		m.pool.giveBack(alg, fresh, applied.Change.Insert)
		var need *NeedFreshError
		if !errors.As(err, &need) {
			if err == nil {
				m.logChange(alg, op.Kind, applied.Change)
				m.emitChange(alg, op.Kind, applied.Change, applied.At)
			}
			return applied, err
		}
		if err := m.fillPool(ctx, alg, need.Need); err != nil {
			return Outcome{}, err
		}
	}
	return Outcome{}, fmt.Errorf("keys: %s lane kept needing fresh keys", alg)
}

// fillPool makes sure the pool of alg holds at least n keys.
func (m *Manager) fillPool(ctx context.Context, alg Alg, n int) error {
	return m.pool.fill(ctx, alg, n, m.cfg.KEKs, m.now())
}

func (m *Manager) logChange(alg Alg, op OpKind, c Change) {
	for _, r := range c.Insert {
		m.log.Info("keys: new key published", "op", op.String(), "alg", string(alg), "kid", r.KID, "state", string(r.State), "signable_at", r.SignableAt)
	}
	for _, r := range c.Update {
		msg := "keys: key state changed"
		switch r.State {
		case StateCurrent:
			msg = "keys: key now signing"
		case StateRetired:
			msg = "keys: key retired; published until its tokens expire"
		case StateRevoked:
			msg = "keys: key revoked and unpublished"
		}
		m.log.Info(msg, "op", op.String(), "alg", string(alg), "kid", r.KID, "state", string(r.State))
	}
	for _, kid := range c.Delete {
		m.log.Info("keys: expired key deleted", "op", op.String(), "alg", string(alg), "kid", kid)
	}
}
