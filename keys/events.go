package keys

import (
	"time"
)

// EventKind is what happened to the ring.
type EventKind string

// The events a Manager reports through Config.Events.
const (
	EventPublished EventKind = "published" // a fresh key was published (as next; as current when a lane starts)
	EventActivated EventKind = "activated" // a key started signing
	EventRetired   EventKind = "retired"   // a key stopped signing; published until its tokens expire
	EventRevoked   EventKind = "revoked"   // a key was unpublished at once
	EventDeleted   EventKind = "deleted"   // an expired key was deleted
	EventRewrapped EventKind = "rewrapped" // keys were re-sealed under the primary KEK (Count of them)
	// EventMaintenanceFailed: a scheduled Maintain failed (Err says why,
	// without key material); the last good ring keeps serving.
	EventMaintenanceFailed EventKind = "maintenance_failed"
)

// Triggers: why a change happened.
const (
	TriggerSchedule  = "schedule"  // Maintain: bootstrap, scheduled rotation, deletion
	TriggerAdmin     = "admin"     // Rotate, Rewrap
	TriggerEmergency = "emergency" // Revoke, and the promotion it forces
)

// Event is one change to the ring that this Manager made (and committed),
// for audit logs and metrics. It names keys by kid, never by material.
type Event struct {
	Kind    EventKind
	Alg     Alg
	KID     string
	Trigger string
	At      time.Time
	// Fresh marks an EventActivated of a key made current as it was
	// published (a lane's first key, or a lane with nothing to promote):
	// no rotation took place.
	Fresh bool
	Count int   // EventRewrapped: how many keys
	Err   error // EventMaintenanceFailed
}

// trigger is the Trigger of op's changes.
func trigger(op OpKind) string {
	switch op {
	case Rotate:
		return TriggerAdmin
	case Revoke:
		return TriggerEmergency
	}
	return TriggerSchedule
}

// emit hands e to Config.Events, if set.
func (m *Manager) emit(e Event) {
	if m.cfg.Events != nil {
		m.cfg.Events(e)
	}
}

// emitChange reports a committed change, key by key.
func (m *Manager) emitChange(alg Alg, op OpKind, c Change, at time.Time) {
	if m.cfg.Events == nil {
		return
	}
	tr := trigger(op)
	for _, r := range c.Insert {
		m.emit(Event{Kind: EventPublished, Alg: alg, KID: r.KID, Trigger: tr, At: at})
		if r.State == StateCurrent {
			m.emit(Event{Kind: EventActivated, Alg: alg, KID: r.KID, Trigger: tr, At: at, Fresh: true})
		}
	}
	for _, r := range c.Update {
		var k EventKind
		switch r.State {
		case StateCurrent:
			k = EventActivated
		case StateRetired:
			k = EventRetired
		case StateRevoked:
			k = EventRevoked
		default:
			continue
		}
		m.emit(Event{Kind: k, Alg: alg, KID: r.KID, Trigger: tr, At: at})
	}
	for _, kid := range c.Delete {
		m.emit(Event{Kind: EventDeleted, Alg: alg, KID: kid, Trigger: tr, At: at})
	}
}

// LastLoaded is when this Manager last read the ring from the store
// successfully (changed or not); zero before the first load. Its age is
// how stale the replica's ring may be.
func (m *Manager) LastLoaded() time.Time {
	n := m.loadedAt.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Policy returns the Manager's lifecycle timing.
func (m *Manager) Policy() Policy { return m.cfg.Policy }

// Algs returns the enabled lanes.
func (m *Manager) Algs() []Alg { return append([]Alg(nil), m.cfg.Algs...) }

// KeyStat describes one published key, for metrics: no kid, no material.
type KeyStat struct {
	Alg         Alg
	State       State
	CreatedAt   time.Time
	ActivatedAt time.Time // zero unless it has signed
}

// Stats lists the snapshot's published keys in JWKS order.
func (s *Snapshot) Stats() []KeyStat {
	out := make([]KeyStat, 0, len(s.order))
	for _, k := range s.order {
		out = append(out, KeyStat{Alg: k.alg, State: k.state, CreatedAt: k.created, ActivatedAt: k.active})
	}
	return out
}
