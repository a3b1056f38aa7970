package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
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
	// Clock is time.Now unless a test injects another.
	Clock func() time.Time
	// Logger hears about rotations and failures, never key material; nil
	// discards.
	Logger *slog.Logger
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

	poolMu sync.Mutex
	pool   map[Alg][]Record // generated but not yet used keys, still sealed
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
		if !a.valid() {
			return nil, fmt.Errorf("keys: unsupported signing algorithm %q", a)
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
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.Algs = slices.Clone(cfg.Algs)
	m := &Manager{store: store, cfg: cfg, log: log, waitCh: make(chan struct{}), pool: map[Alg][]Record{}}
	m.snap.Store(emptySnapshot())
	return m, nil
}

// now is the injected clock in UTC at microsecond precision, which is what
// Postgres keeps: a plan's times then compare equal after a round trip.
func (m *Manager) now() time.Time { return m.cfg.Clock().UTC().Truncate(time.Microsecond) }

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
	if s == prev {
		return nil
	}
	s.version = prev.version + 1
	m.publish(s)
	m.log.Debug("keys: key ring loaded", "version", s.version, "kids", s.KIDs())
	return nil
}

// Run keeps the ring current until ctx is done: it reloads when the store
// says keys changed (if it is a Watcher, resubscribing with backoff when the
// subscription breaks), every PollInterval, and soon after a failed reload,
// and it runs Maintain every MaintainInterval. Failures are logged and the
// last good snapshot keeps serving. Run returns after its goroutines have
// stopped.
func (m *Manager) Run(ctx context.Context) {
	kick := make(chan struct{}, 1)
	notify := func() {
		select {
		case kick <- struct{}{}:
		default: // a reload is already pending; it will see this change too
		}
	}
	var wg sync.WaitGroup
	if w, ok := m.store.(Watcher); ok {
		wg.Go(func() { m.watch(ctx, w, notify) })
	}
	defer wg.Wait()

	poll := time.NewTicker(m.cfg.PollInterval)
	defer poll.Stop()
	maint := time.NewTimer(jitter(m.cfg.MaintainInterval))
	defer maint.Stop()
	// After a failed reload, retry sooner than the next poll (1s doubling,
	// up to PollInterval), so a replica that missed a change during a
	// database blip catches up as soon as the database is back.
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	const minRetry = time.Second
	retryIn := minRetry
	reload := func() {
		if m.reloadOrLog(ctx) {
			retryIn = minRetry
			return
		}
		retry.Reset(jitter(min(retryIn, m.cfg.PollInterval)))
		retryIn = min(2*retryIn, m.cfg.PollInterval)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
			reload()
		case <-poll.C:
			reload()
		case <-retry.C:
			reload()
		case <-maint.C:
			if err := m.Maintain(ctx); err != nil && ctx.Err() == nil {
				m.log.Error("keys: maintenance failed", "err", err)
			}
			maint.Reset(jitter(m.cfg.MaintainInterval))
		}
	}
}

// reloadOrLog reloads and reports success; a failure is logged.
func (m *Manager) reloadOrLog(ctx context.Context) bool {
	err := m.Reload(ctx)
	if err != nil && ctx.Err() == nil {
		m.log.Error("keys: reload failed; keeping the last good key ring", "err", err, "version", m.Snapshot().Version())
	}
	return err == nil
}

// watch subscribes to change notifications and resubscribes after a failure
// with exponential backoff (1s doubling to 1m, reset after a subscription
// that lasted a minute). Polling covers the gaps.
func (m *Manager) watch(ctx context.Context, w Watcher, notify func()) {
	const minBackoff, maxBackoff = time.Second, time.Minute
	backoff := minBackoff
	for {
		began := time.Now()
		err := w.WatchKeys(ctx, notify)
		if ctx.Err() != nil {
			return
		}
		if time.Since(began) > maxBackoff {
			backoff = minBackoff
		}
		m.log.Warn("keys: key change notifications lost; polling until resubscribed", "err", err, "retry_in", backoff)
		t := time.NewTimer(jitter(backoff))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
		notify() // whatever changed while unsubscribed
	}
}

func jitter(d time.Duration) time.Duration {
	return d - d/10 + rand.N(d/5+1)
}

// Maintain runs the Maintain plan on every enabled lane (see Plan), logs what
// changed and reloads if anything did. Every replica may call it; the lane
// lock makes only the first caller change anything.
func (m *Manager) Maintain(ctx context.Context) error {
	var errs []error
	changed := false
	for _, a := range m.cfg.Algs {
		c, err := m.update(ctx, a, Op{Kind: Maintain}, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("keys: maintaining %s lane: %w", a, err))
			continue
		}
		m.logChange(a, Maintain, c)
		changed = changed || !c.Empty()
	}
	if changed {
		if err := m.Reload(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// update plans op under the lane lock. Fresh keys are generated outside the
// lock, because RSA key generation takes long enough to stall every other
// replica's lane operations: the first attempt uses what the pool holds, and
// a plan that needs more aborts its transaction, has them generated, and
// runs again.
//
// seen, if not nil, gets the lane as it was under the lock when the plan
// that committed was made.
func (m *Manager) update(ctx context.Context, alg Alg, op Op, seen *[]Record) (Change, error) {
	for range 3 {
		fresh := m.takePool(alg)
		var applied Change
		err := m.store.UpdateLane(ctx, alg, func(lane []Record) (Change, error) {
			if seen != nil {
				*seen = lane
			}
			c, err := Plan(lane, m.now(), m.cfg.Policy, op, fresh)
			applied = c // UpdateLane may retry; the last call is what committed
			return c, err
		})
		if err != nil {
			applied = Change{}
		}
		m.returnPool(alg, fresh, applied.Insert)
		var need *NeedFreshError
		if !errors.As(err, &need) {
			return applied, err
		}
		if err := m.fillPool(ctx, alg, need.Need); err != nil {
			return Change{}, err
		}
	}
	return Change{}, fmt.Errorf("keys: %s lane kept needing fresh keys", alg)
}

// maxPool bounds the spare keys kept per lane: no plan uses more than two.
const maxPool = 2

func (m *Manager) takePool(alg Alg) []Record {
	m.poolMu.Lock()
	defer m.poolMu.Unlock()
	p := m.pool[alg]
	delete(m.pool, alg)
	return p
}

// returnPool puts back the fresh keys a plan did not insert. Keys taken out
// of the pool for one call are invisible to concurrent calls, so two
// operations of this Manager never try to insert the same key.
func (m *Manager) returnPool(alg Alg, fresh, inserted []Record) {
	m.poolMu.Lock()
	defer m.poolMu.Unlock()
	for _, f := range fresh {
		used := slices.ContainsFunc(inserted, func(r Record) bool { return r.KID == f.KID })
		if !used && len(m.pool[alg]) < maxPool {
			m.pool[alg] = append(m.pool[alg], f)
		}
	}
}

// fillPool makes sure the pool of alg holds at least n keys.
func (m *Manager) fillPool(ctx context.Context, alg Alg, n int) error {
	n = min(n, maxPool)
	for {
		m.poolMu.Lock()
		have := len(m.pool[alg])
		m.poolMu.Unlock()
		if have >= n {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := Generate(alg, m.cfg.KEKs, m.now())
		if err != nil {
			return err
		}
		m.poolMu.Lock()
		m.pool[alg] = append(m.pool[alg], r)
		m.poolMu.Unlock()
	}
}

func (m *Manager) logChange(alg Alg, op OpKind, c Change) {
	for _, r := range c.Insert {
		m.log.Info("keys: new key published", "op", op.String(), "alg", string(alg), "kid", r.KID, "state", string(r.State))
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

// Rotation reports what Manager.Rotate did.
type Rotation struct {
	Alg     Alg       `json:"alg"`
	Retired string    `json:"retired_kid,omitempty"` // the old current key, now retired
	Current string    `json:"current_kid"`           // the old next key, now signing
	Next    string    `json:"next_kid"`              // the fresh next key
	Forced  bool      `json:"forced"`
	At      time.Time `json:"at"`
}

// Rotate promotes lane alg's next key to current now, retires the current key
// and publishes a fresh next, in one transaction. Unless force, the next key
// must have been published for the propagation delay (*NotPropagatedError).
// It compares the current key it read before locking with the one it finds
// under the lock, so of two concurrent rotations one rotates and the other
// fails with ErrConcurrentRotation, even with force.
func (m *Manager) Rotate(ctx context.Context, alg Alg, force bool) (Rotation, error) {
	if !slices.Contains(m.cfg.Algs, alg) {
		return Rotation{}, fmt.Errorf("keys: %s is not an enabled signing algorithm", alg)
	}
	cur, err := m.currentKID(ctx, alg)
	if err != nil {
		return Rotation{}, err
	}
	if cur == "" {
		// Never started: make the lane, then rotate it like any other.
		c, err := m.update(ctx, alg, Op{Kind: Maintain}, nil)
		if err != nil {
			return Rotation{}, err
		}
		m.logChange(alg, Maintain, c)
		if cur, err = m.currentKID(ctx, alg); err != nil {
			return Rotation{}, err
		}
	}
	if err := m.fillPool(ctx, alg, 1); err != nil {
		return Rotation{}, err
	}
	c, err := m.update(ctx, alg, Op{Kind: Rotate, Force: force, ExpectCurrent: cur}, nil)
	if err != nil {
		if errors.Is(err, ErrConcurrentRotation) {
			m.reloadOrLog(ctx)
		}
		return Rotation{}, err
	}
	m.logChange(alg, Rotate, c)
	rot := Rotation{Alg: alg, Forced: force}
	for _, r := range c.Update {
		switch r.State {
		case StateCurrent:
			rot.Current, rot.At = r.KID, r.ActivatedAt
		case StateRetired:
			if r.KID == cur {
				rot.Retired = r.KID
			}
		}
	}
	for _, r := range c.Insert {
		switch r.State {
		case StateNext:
			rot.Next = r.KID
		case StateCurrent: // forced with no next key
			rot.Current, rot.At = r.KID, r.ActivatedAt
		}
	}
	// The rotation has committed; a failed reload here is only logged, and
	// Run's next poll retries it.
	m.reloadOrLog(ctx)
	return rot, nil
}

func (m *Manager) currentKID(ctx context.Context, alg Alg) (string, error) {
	recs, err := m.store.Keys(ctx)
	if err != nil {
		return "", fmt.Errorf("keys: loading key ring: %w", err)
	}
	var cur *Record
	for i, r := range recs {
		if r.Alg == alg && r.State == StateCurrent && (cur == nil || r.ActivatedAt.After(cur.ActivatedAt)) {
			cur = &recs[i]
		}
	}
	if cur == nil {
		return "", nil
	}
	return cur.KID, nil
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
// replaced by the lane's next key without waiting for the propagation delay,
// and a fresh next is published; revoking a revoked key changes nothing.
// Keys of any lane can be revoked, enabled or not.
func (m *Manager) Revoke(ctx context.Context, kid string) (Revocation, error) {
	recs, err := m.store.Keys(ctx)
	if err != nil {
		return Revocation{}, fmt.Errorf("keys: loading key ring: %w", err)
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
	var lane []Record
	c, err := m.update(ctx, alg, Op{Kind: Revoke, KID: kid}, &lane)
	if err != nil {
		return Revocation{}, err
	}
	m.logChange(alg, Revoke, c)
	// Report the key as the lock found it, which may differ from the read
	// above if another process changed the lane in between.
	prev := recs[i]
	if j := slices.IndexFunc(lane, func(r Record) bool { return r.KID == kid }); j >= 0 {
		prev = lane[j]
	}
	rev := Revocation{KID: kid, Alg: alg, PreviousState: prev.State}
	if c.Empty() {
		rev.AlreadyRevoked, rev.At = true, prev.RevokedAt
	}
	for _, r := range slices.Concat(c.Update, c.Insert) {
		switch {
		case r.KID == kid:
			rev.At = r.RevokedAt
		case r.State == StateCurrent:
			rev.Current = r.KID
		case r.State == StateNext:
			rev.Next = r.KID
		}
	}
	m.reloadOrLog(ctx)
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
	// DeleteAfter is when Maintain deletes a retired or revoked key (and
	// unpublishes a retired one).
	DeleteAfter time.Time `json:"delete_after,omitzero"`
}

// List returns every stored key, by lane, then current, next, retired,
// revoked, newest first.
func (m *Manager) List(ctx context.Context) ([]KeyInfo, error) {
	recs, err := m.store.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: loading key ring: %w", err)
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
func (m *Manager) Rewrap(ctx context.Context) (int, error) {
	recs, err := m.store.Keys(ctx)
	if err != nil {
		return 0, fmt.Errorf("keys: loading key ring: %w", err)
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
	m.reloadOrLog(ctx)
	return len(out), nil
}

// String describes the Manager without key material.
func (m *Manager) String() string {
	return fmt.Sprintf("keys.Manager(algs=%v, %v)", m.cfg.Algs, m.Snapshot())
}

// Format describes the Manager without key material, whatever the verb.
func (m *Manager) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(m.String())) }
