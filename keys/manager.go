package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaintainInterval is how often Run calls Maintain when
// Config.MaintainInterval is zero. Rotation periods are days, so a rotation
// or deletion that happens up to a minute after it is due is on time; each
// call is one short transaction per lane and replica.
const DefaultMaintainInterval = time.Minute

// Config configures a Manager.
type Config struct {
	// Algs are the enabled lanes: Start bootstraps them, Maintain rotates
	// them and the snapshot has a signing key for each. Keys of other lanes
	// found in the store are still published (other replicas may still sign
	// with them during a rolling configuration change) but not maintained.
	Algs   []Alg
	Policy Policy
	// PollInterval is how often Run reloads the ring even without a
	// notification. It is part of MinPropagationDelay.
	PollInterval time.Duration
	// MaintainInterval is how often Run calls Maintain (±10% jitter so that
	// replicas started together do not queue on the lane lock in step); zero
	// means DefaultMaintainInterval.
	MaintainInterval time.Duration
	// KEKs seal and open private keys.
	KEKs *KEKSet
	// Now is time.Now unless a test injects another clock. Its times need
	// no rounding: the Store keeps them at its own precision.
	Now func() time.Time
	// Logger hears about rotations and failures, never key material; nil
	// discards.
	Logger *slog.Logger
	// Events, if set, hears every change this Manager commits and every
	// failed scheduled maintenance (see Event), synchronously: it must be
	// quick and must not call back into the Manager.
	Events func(Event)
}

// Manager keeps a replica's in-memory key ring in step with the store and
// runs the lifecycle: bootstrap, scheduled rotation, deletion, and the admin
// operations. All methods are safe for concurrent use; Snapshot is lock-free.
type Manager struct {
	store Store
	cfg   Config
	log   *slog.Logger

	snap     atomic.Pointer[Snapshot]
	reloadMu sync.Mutex // one build at a time, so an older read never replaces a newer snapshot

	waitMu sync.Mutex
	waitCh chan struct{} // closed when the next snapshot is published

	pool pool // generated but not yet used keys, still sealed

	loadedAt atomic.Int64 // UnixNano of the last successful read of the ring
}

// NewManager checks cfg and returns a Manager that serves an empty,
// not-loaded snapshot until Start.
func NewManager(store Store, cfg Config) (*Manager, error) {
	if store == nil {
		return nil, errors.New("keys: a Store is required")
	}
	if len(cfg.Algs) == 0 {
		return nil, errors.New("keys: at least one signing algorithm must be enabled")
	}
	for i, a := range cfg.Algs {
		if _, err := ParseAlg(string(a)); err != nil {
			return nil, err
		}
		if slices.Contains(cfg.Algs[:i], a) {
			return nil, fmt.Errorf("keys: signing algorithm %s enabled twice", a)
		}
	}
	if cfg.KEKs == nil || len(cfg.KEKs.keks) == 0 {
		return nil, errors.New("keys: key-encryption keys are required")
	}
	if err := cfg.Policy.Validate(); err != nil {
		return nil, err
	}
	if cfg.PollInterval <= 0 {
		return nil, errors.New("keys: PollInterval must be positive")
	}
	if cfg.MaintainInterval < 0 {
		return nil, errors.New("keys: MaintainInterval must not be negative")
	}
	if cfg.MaintainInterval == 0 {
		cfg.MaintainInterval = DefaultMaintainInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.Algs = slices.Clone(cfg.Algs)
	m := &Manager{store: store, cfg: cfg, log: log, waitCh: make(chan struct{}), pool: pool{keys: map[Alg][]Record{}}}
	m.snap.Store(emptySnapshot())
	return m, nil
}

// now is the injected clock. Reports show it in UTC, as the store returns
// times.
func (m *Manager) now() time.Time { return m.cfg.Now().UTC() }

// Snapshot returns the current snapshot; never nil.
func (m *Manager) Snapshot() *Snapshot { return m.snap.Load() }

// Ready reports whether the ring is loaded and every enabled lane has a
// signing key: the key half of readiness.
func (m *Manager) Ready() bool { return m.Snapshot().Ready(m.cfg.Algs...) }

// Changed returns a channel that is closed when a newer snapshot than the
// current one is published. Take the channel before looking at Snapshot to
// never miss a change.
func (m *Manager) Changed() <-chan struct{} {
	m.waitMu.Lock()
	defer m.waitMu.Unlock()
	return m.waitCh
}

// Await waits until cond holds for the current snapshot and returns that
// snapshot, or returns ctx's error.
func (m *Manager) Await(ctx context.Context, cond func(*Snapshot) bool) (*Snapshot, error) {
	for {
		ch := m.Changed()
		if s := m.Snapshot(); cond(s) {
			return s, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (m *Manager) publish(s *Snapshot) {
	m.waitMu.Lock()
	defer m.waitMu.Unlock()
	m.snap.Store(s)
	close(m.waitCh)
	m.waitCh = make(chan struct{})
}

// Start brings the ring up: it checks that the configured KEKs open the keys
// already stored (before writing anything, so a replica with a wrong KEK
// cannot seal new keys nobody else can open), runs Maintain on every enabled
// lane (bootstrapping an empty one; replicas starting together serialise on
// the lane lock and converge on one current and one next), and loads the
// snapshot. A wrong KEK or an unreachable store is an error.
func (m *Manager) Start(ctx context.Context) error {
	if err := m.Reload(ctx); err != nil {
		return err
	}
	if err := m.Maintain(ctx); err != nil {
		return err
	}
	if err := m.Reload(ctx); err != nil {
		return err
	}
	s := m.Snapshot()
	for _, a := range m.cfg.Algs {
		if _, ok := s.Signer(a); !ok {
			return fmt.Errorf("keys: no current %s key after start", a)
		}
	}
	return nil
}

// Reload reads the ring and publishes a new snapshot if anything changed. On
// error the last good snapshot stays.
func (m *Manager) Reload(ctx context.Context) error {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	recs, err := m.store.Keys(ctx)
	if err != nil {
		return fmt.Errorf("keys: loading key ring: %w", err)
	}
	prev := m.snap.Load()
	opt := SnapshotOptions{Now: m.now(), RetireAfter: m.cfg.Policy.RetireAfter, Signing: m.cfg.Algs}
	s, err := buildSnapshot(recs, m.cfg.KEKs, opt, prev, func(err error) {
		m.log.Warn("keys: next key cannot be opened yet; it is published, and will be retried when it becomes current", "err", err)
	})
	if err != nil {
		return err
	}
	m.loadedAt.Store(time.Now().UnixNano())
	if s == prev {
		return nil
	}
	s.version = prev.version + 1
	m.publish(s)
	m.log.Debug("keys: key ring loaded", "version", s.version, "kids", s.KIDs())
	return nil
}

// String describes the Manager without key material.
func (m *Manager) String() string {
	return fmt.Sprintf("keys.Manager(algs=%v, %v)", m.cfg.Algs, m.Snapshot())
}

// Format describes the Manager without key material, whatever the verb.
func (m *Manager) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(m.String())) }
