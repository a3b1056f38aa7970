package keys_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/keys"
	"github.com/rotor-idp/rotor/sql/postgres"
)

// The Manager tests run replicas (Managers, each on its own store handle,
// as separate processes would be) against a real Postgres, with a shared
// injected clock.

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// Key-encryption keys for these tests (random bytes made for them only).
const (
	kek1      = "k1:pU3KGCUwux1tEyze1iN7LtkeP3IfyxlxF0SU1kk8nVw="
	kek2      = "k2:NGC-MSAeaf7aoO7ouZl_XHwpmf2v5ZMlPNZUr0361xQ"
	kek1Wrong = "k1:J6Cus/7pIy+K8iEfnuSRxbEL7LVWO/web5NCfsvI/ik="
)

const (
	testP      = 10 * time.Minute
	testRetire = time.Hour
)

// clock is the injected clock, shared by the replicas of a test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// openStore opens a store of its own on url, as another process would.
func openStore(t *testing.T, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

type replicaOpt func(*keys.Config)

func withAlgs(algs ...keys.Alg) replicaOpt { return func(c *keys.Config) { c.Algs = algs } }
func withKEKs(t *testing.T, s string) replicaOpt {
	return func(c *keys.Config) { c.KEKs = mustKEKs(t, s) }
}
func withLogger(l *slog.Logger) replicaOpt { return func(c *keys.Config) { c.Logger = l } }
func withDelay(p time.Duration) replicaOpt {
	return func(c *keys.Config) { c.Policy.PropagationDelay = p }
}

func mustKEKs(t *testing.T, s string) *keys.KEKSet {
	t.Helper()
	k, err := keys.ParseKEKs(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newReplica is a Manager on store with the EdDSA lane only (RSA key
// generation is slow, and most tests are about the lifecycle, not the
// algorithm), no automatic rotation, and Run timers long enough that only
// notifications move it.
func newReplica(t *testing.T, store keys.Store, clk *clock, opts ...replicaOpt) *keys.Manager {
	t.Helper()
	cfg := keys.Config{
		Algs:             []keys.Alg{keys.EdDSA},
		Policy:           keys.Policy{PropagationDelay: testP, RetireAfter: testRetire},
		PollInterval:     time.Hour,
		MaintainInterval: time.Hour,
		KEKs:             mustKEKs(t, kek1),
		Now:              clk.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	m, err := keys.NewManager(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func start(t *testing.T, m *keys.Manager) {
	t.Helper()
	if err := m.Start(ctxFor(t)); err != nil {
		t.Fatalf("Start: %v", err)
	}
}

// watched wraps a real store to tell the test when a replica's
// subscription is live: the Postgres store calls changed once as soon as it
// listens, so the first call of each WatchKeys is a (re)subscription.
type watched struct {
	*postgres.Store
	subscribed chan struct{}
}

func watch(s *postgres.Store) *watched {
	return &watched{Store: s, subscribed: make(chan struct{}, 16)}
}

func (w *watched) WatchKeys(ctx context.Context, changed func()) error {
	var once sync.Once
	return w.Store.WatchKeys(ctx, func() {
		once.Do(func() {
			select {
			case w.subscribed <- struct{}{}:
			default:
			}
		})
		changed()
	})
}

func (w *watched) awaitSubscription(t *testing.T) {
	t.Helper()
	select {
	case <-w.subscribed:
	case <-time.After(30 * time.Second):
		t.Fatal("replica did not subscribe to key changes")
	}
}

// run starts m.Run until the test ends and, if the store is watched, waits
// for the subscription.
func run(t *testing.T, m *keys.Manager, w *watched) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	if w != nil {
		w.awaitSubscription(t)
	}
}

// await waits, with a deadline, for m's snapshot to satisfy cond.
func await(t *testing.T, m *keys.Manager, what string, cond func(*keys.Snapshot) bool) *keys.Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := m.Await(ctx, cond)
	if err != nil {
		t.Fatalf("waiting for %s: %v (snapshot %v)", what, err, m.Snapshot())
	}
	return s
}

func signerKID(s *keys.Snapshot, alg keys.Alg) string {
	k, ok := s.Signer(alg)
	if !ok {
		return ""
	}
	return k.KID
}

// states summarises a listing as state → kids per lane.
func states(t *testing.T, m *keys.Manager) map[keys.Alg]map[keys.State][]string {
	t.Helper()
	infos, err := m.List(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	out := map[keys.Alg]map[keys.State][]string{}
	for _, k := range infos {
		if out[k.Alg] == nil {
			out[k.Alg] = map[keys.State][]string{}
		}
		out[k.Alg][k.State] = append(out[k.Alg][k.State], k.KID)
	}
	return out
}

func counts(st map[keys.Alg]map[keys.State][]string) map[keys.Alg]map[keys.State]int {
	out := map[keys.Alg]map[keys.State]int{}
	for a, m := range st {
		out[a] = map[keys.State]int{}
		for s, kids := range m {
			out[a][s] = len(kids)
		}
	}
	return out
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
