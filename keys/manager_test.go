package keys_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/keys"
	"github.com/rotor-idp/rotor/sql/postgres"
)

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

func TestManagerStartBootstraps(t *testing.T) {
	clk := newClock()
	store := openStore(t, pgtest.NewDatabase(t))
	m := newReplica(t, store, clk, withAlgs(keys.EdDSA, keys.RS256))
	if s := m.Snapshot(); s == nil || s.Loaded() || m.Ready() || s.Version() != 0 {
		t.Fatalf("before Start: %v, ready=%t", s, m.Ready())
	}
	start(t, m)

	want := map[keys.Alg]map[keys.State]int{
		keys.EdDSA: {keys.StateCurrent: 1, keys.StateNext: 1},
		keys.RS256: {keys.StateCurrent: 1, keys.StateNext: 1},
	}
	st := states(t, m)
	if diff := cmp.Diff(want, counts(st)); diff != "" {
		t.Fatalf("lanes after Start (-want +got):\n%s", diff)
	}
	s := m.Snapshot()
	if !m.Ready() || !s.Loaded() || s.Version() == 0 {
		t.Errorf("after Start: %v ready=%t", s, m.Ready())
	}
	for _, a := range []keys.Alg{keys.EdDSA, keys.RS256} {
		if got := signerKID(s, a); got != st[a][keys.StateCurrent][0] {
			t.Errorf("Signer(%s) = %s, want the current key %s", a, got, st[a][keys.StateCurrent][0])
		}
		k, _ := s.Signer(a)
		tok, err := k.Sign([]byte(`{"sub":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, kid, err := s.Verify(tok, clk.Now()); err != nil || kid != k.KID {
			t.Errorf("Verify(%s token) = %s, %v", a, kid, err)
		}
	}
	if got := len(s.KIDs()); got != 4 {
		t.Errorf("JWKS has %d keys, want 4", got)
	}

	// A second Start (a restart) changes nothing.
	before := s.Version()
	start(t, m)
	if diff := cmp.Diff(st, states(t, m)); diff != "" {
		t.Errorf("restart changed the ring (-before +after):\n%s", diff)
	}
	if m.Snapshot().Version() != before {
		t.Error("restart published a new snapshot of an unchanged ring")
	}

	// Listing is JSON-friendly and holds nothing private.
	infos, err := m.List(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(infos, func(k keys.KeyInfo) bool { return k.State == keys.StateNext })
	j, err := json.Marshal(infos[i])
	if err != nil {
		t.Fatal(err)
	}
	var members map[string]any
	_ = json.Unmarshal(j, &members)
	if diff := cmp.Diff([]string{"alg", "created_at", "kek_id", "kid", "published", "signable_at", "state"}, slices.Sorted(maps.Keys(members))); diff != "" {
		t.Errorf("KeyInfo JSON members of a next key (-want +got):\n%s", diff)
	}
}

func TestManagerReplicasStartTogether(t *testing.T) {
	clk := newClock()
	url := pgtest.NewDatabase(t)
	const n = 3
	ms := make([]*keys.Manager, n)
	for i := range ms {
		ms[i] = newReplica(t, openStore(t, url), clk, withAlgs(keys.EdDSA, keys.RS256))
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	ready := make(chan struct{})
	for i, m := range ms {
		wg.Go(func() {
			<-ready
			errs[i] = m.Start(ctxFor(t))
		})
	}
	close(ready)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: Start: %v", i, err)
		}
	}
	// Every replica converged on the ring that is stored; a replica that
	// started before another's bootstrap committed catches up on reload.
	for _, m := range ms {
		if err := m.Reload(ctxFor(t)); err != nil {
			t.Fatal(err)
		}
	}
	want := map[keys.Alg]map[keys.State]int{
		keys.EdDSA: {keys.StateCurrent: 1, keys.StateNext: 1},
		keys.RS256: {keys.StateCurrent: 1, keys.StateNext: 1},
	}
	if diff := cmp.Diff(want, counts(states(t, ms[0]))); diff != "" {
		t.Fatalf("lanes (-want +got):\n%s", diff)
	}
	body0, etag0 := ms[0].Snapshot().JWKS()
	for i, m := range ms[1:] {
		body, etag := m.Snapshot().JWKS()
		if !bytes.Equal(body0, body) || etag != etag0 {
			t.Errorf("replica %d serves another JWKS:\n%s\n%s", i+1, body0, body)
		}
		for _, a := range []keys.Alg{keys.EdDSA, keys.RS256} {
			if signerKID(m.Snapshot(), a) != signerKID(ms[0].Snapshot(), a) {
				t.Errorf("replica %d signs %s with another key", i+1, a)
			}
		}
	}
}

func TestManagerRotateReachesOtherReplica(t *testing.T) {
	clk := newClock()
	url := pgtest.NewDatabase(t)
	a := newReplica(t, openStore(t, url), clk)
	wb := watch(openStore(t, url))
	b := newReplica(t, wb, clk)
	start(t, a)
	start(t, b)
	run(t, b, wb)

	old := states(t, a)[keys.EdDSA]
	clk.Advance(testP)
	rot, err := a.Rotate(ctxFor(t), keys.EdDSA, false)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if rot.Current != old[keys.StateNext][0] || rot.Retired != old[keys.StateCurrent][0] || rot.Next == "" || rot.Forced || !rot.At.Equal(clk.Now()) {
		t.Errorf("Rotation = %+v; ring before %v", rot, old)
	}
	after := states(t, a)[keys.EdDSA]
	want := map[keys.State][]string{keys.StateCurrent: {rot.Current}, keys.StateNext: {rot.Next}, keys.StateRetired: {rot.Retired}}
	if diff := cmp.Diff(want, after); diff != "" {
		t.Errorf("lane after rotation (-want +got):\n%s", diff)
	}
	// The rotating replica has reloaded when Rotate returns.
	if got := signerKID(a.Snapshot(), keys.EdDSA); got != rot.Current {
		t.Errorf("rotating replica signs with %s, want %s", got, rot.Current)
	}
	// The other one hears about it from the notification (its poll
	// interval is an hour).
	s := await(t, b, "the other replica to see the rotation", func(s *keys.Snapshot) bool {
		return signerKID(s, keys.EdDSA) == rot.Current
	})
	ba, _ := a.Snapshot().JWKS()
	bb, _ := s.JWKS()
	if !bytes.Equal(ba, bb) {
		t.Errorf("replicas serve different JWKS:\n%s\n%s", ba, bb)
	}
	// The retired key is still published: its tokens are still valid.
	if !slices.Contains(s.KIDs(), rot.Retired) {
		t.Error("retired key left the JWKS at once")
	}
}

// barrier holds UpdateLane calls until n callers have reached it, so that
// every rotation has read the ring before any of them takes the lock: the
// race the ExpectCurrent check exists for.
type barrier struct {
	keys.Store
	wg *sync.WaitGroup
}

func (b barrier) UpdateLane(ctx context.Context, alg keys.Alg, fn func([]keys.Record) (keys.Change, error)) error {
	b.wg.Done()
	b.wg.Wait()
	return b.Store.UpdateLane(ctx, alg, fn)
}

func TestManagerConcurrentForcedRotationsRotateOnce(t *testing.T) {
	clk := newClock()
	url := pgtest.NewDatabase(t)
	a := newReplica(t, openStore(t, url), clk)
	start(t, a)
	before := states(t, a)[keys.EdDSA]

	var wg sync.WaitGroup
	wg.Add(2)
	admins := []*keys.Manager{
		newReplica(t, barrier{openStore(t, url), &wg}, clk),
		newReplica(t, barrier{openStore(t, url), &wg}, clk),
	}
	var done sync.WaitGroup
	rots := make([]keys.Rotation, 2)
	errs := make([]error, 2)
	for i, m := range admins {
		done.Go(func() { rots[i], errs[i] = m.Rotate(ctxFor(t), keys.EdDSA, true) })
	}
	done.Wait()

	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("both rotations succeeded: %+v, %+v", rots[0], rots[1])
			}
			winner = i
		case !errors.Is(err, keys.ErrConcurrentRotation):
			t.Fatalf("rotation %d: %v, want ErrConcurrentRotation", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no rotation succeeded: %v", errs)
	}
	after := states(t, a)[keys.EdDSA]
	want := map[keys.State][]string{
		keys.StateCurrent: before[keys.StateNext],
		keys.StateRetired: before[keys.StateCurrent],
		keys.StateNext:    {rots[winner].Next},
	}
	if diff := cmp.Diff(want, after); diff != "" {
		t.Errorf("lane after two concurrent rotations (-want +got):\n%s", diff)
	}
}

func TestManagerRotateRefusesYoungNext(t *testing.T) {
	clk := newClock()
	store := openStore(t, pgtest.NewDatabase(t))
	m := newReplica(t, store, clk)
	start(t, m)
	before := states(t, m)
	clk.Advance(testP - time.Minute)

	_, err := m.Rotate(ctxFor(t), keys.EdDSA, false)
	var np *keys.NotPropagatedError
	if !errors.As(err, &np) || !errors.Is(err, keys.ErrNotPropagated) {
		t.Fatalf("Rotate error = %v, want a NotPropagatedError", err)
	}
	if np.KID != before[keys.EdDSA][keys.StateNext][0] || np.Published != testP-time.Minute || np.Delay != testP || np.Wait() != time.Minute {
		t.Errorf("NotPropagatedError = %+v", np)
	}
	for _, s := range []string{np.KID, "9m0s", "10m0s", "wait 1m0s", "--force"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message %q lacks %q", err, s)
		}
	}
	if diff := cmp.Diff(before, states(t, m)); diff != "" {
		t.Errorf("refused rotation changed the ring (-before +after):\n%s", diff)
	}

	if _, err := m.Rotate(ctxFor(t), keys.RS256, false); err == nil {
		t.Error("Rotate of a lane that is not enabled succeeded")
	}
	rot, err := m.Rotate(ctxFor(t), keys.EdDSA, true)
	if err != nil || !rot.Forced || rot.Current != np.KID {
		t.Fatalf("forced Rotate = %+v, %v", rot, err)
	}
}

func TestManagerRevoke(t *testing.T) {
	for _, which := range []keys.State{keys.StateCurrent, keys.StateNext} {
		t.Run(string(which), func(t *testing.T) {
			clk := newClock()
			url := pgtest.NewDatabase(t)
			a := newReplica(t, openStore(t, url), clk)
			wb := watch(openStore(t, url))
			b := newReplica(t, wb, clk)
			start(t, a)
			start(t, b)
			run(t, b, wb)
			before := states(t, a)[keys.EdDSA]
			victim := before[which][0]
			sk, _ := a.Snapshot().Signer(keys.EdDSA)
			tok, err := sk.Sign([]byte(`{}`))
			if err != nil {
				t.Fatal(err)
			}

			// Seconds after Start: the next key is nowhere near P old,
			// and revoking the current key promotes it anyway.
			clk.Advance(time.Second)
			rev, err := a.Revoke(ctxFor(t), victim)
			if err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			if rev.KID != victim || rev.PreviousState != which || rev.AlreadyRevoked || !rev.At.Equal(clk.Now()) || rev.Next == "" {
				t.Errorf("Revocation = %+v", rev)
			}
			after := states(t, a)[keys.EdDSA]
			wantCurrent := before[keys.StateCurrent]
			if which == keys.StateCurrent {
				wantCurrent = before[keys.StateNext]
				if rev.Current != wantCurrent[0] {
					t.Errorf("Revocation.Current = %s, want the old next %s", rev.Current, wantCurrent[0])
				}
			}
			want := map[keys.State][]string{keys.StateCurrent: wantCurrent, keys.StateNext: {rev.Next}, keys.StateRevoked: {victim}}
			if diff := cmp.Diff(want, after); diff != "" {
				t.Errorf("lane after revocation (-want +got):\n%s", diff)
			}

			unpublished := func(s *keys.Snapshot) bool { return !slices.Contains(s.KIDs(), victim) }
			// At once on the revoking replica…
			if s := a.Snapshot(); !unpublished(s) || signerKID(s, keys.EdDSA) != wantCurrent[0] {
				t.Errorf("revoking replica still publishes %s or signs with another key: %v", victim, s.KIDs())
			}
			// …and on the other as soon as it is told.
			s := await(t, b, "the other replica to unpublish the key", unpublished)
			if signerKID(s, keys.EdDSA) != wantCurrent[0] {
				t.Errorf("other replica signs with %s", signerKID(s, keys.EdDSA))
			}
			if which == keys.StateCurrent {
				for name, m := range map[string]*keys.Manager{"a": a, "b": b} {
					if _, _, err := m.Snapshot().Verify(tok, clk.Now()); !errors.Is(err, keys.ErrInvalidToken) {
						t.Errorf("replica %s still accepts a token of the revoked key: %v", name, err)
					}
				}
			}

			again, err := a.Revoke(ctxFor(t), victim)
			if err != nil || !again.AlreadyRevoked {
				t.Errorf("second Revoke = %+v, %v", again, err)
			}
			if _, err := a.Revoke(ctxFor(t), "no-such-kid"); !errors.Is(err, keys.ErrKeyNotFound) {
				t.Errorf("Revoke(unknown) = %v, want ErrKeyNotFound", err)
			}
		})
	}
}

// openSealed decrypts a sealed key the way the format is documented
// (nonce||ciphertext, AAD "rotor-signing-key:v1:"+kid), independently of the
// package's own code.
func openSealed(t *testing.T, kekEntry, kid string, sealed []byte) []byte {
	t.Helper()
	_, b64, _ := strings.Cut(kekEntry, ":")
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	pt, err := gcm.Open(nil, sealed[:12], sealed[12:], []byte("rotor-signing-key:v1:"+kid))
	if err != nil {
		t.Fatalf("open %s: %v", kid, err)
	}
	return pt
}

func TestManagerDatabaseHoldsOnlyCiphertext(t *testing.T) {
	clk := newClock()
	url := pgtest.NewDatabase(t)
	m := newReplica(t, openStore(t, url), clk, withAlgs(keys.EdDSA, keys.RS256))
	start(t, m)

	conn, err := pgx.Connect(ctxFor(t), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctxFor(t), `SELECT kid, public_jwk, sealed, kek_id, signing_keys::text FROM signing_keys`)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		kid, kekID, all string
		jwk, sealed     []byte
	}
	var got []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.kid, &r.jwk, &r.sealed, &r.kekID, &r.all); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d stored keys, want 4", len(got))
	}
	for _, r := range got {
		der := openSealed(t, kek1, r.kid, r.sealed)
		priv, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			t.Fatalf("%s: sealed plaintext is not PKCS #8: %v", r.kid, err)
		}
		var secrets [][]byte
		switch p := priv.(type) {
		case ed25519.PrivateKey:
			secrets = [][]byte{p.Seed()}
		case *rsa.PrivateKey:
			secrets = [][]byte{p.D.Bytes(), p.Primes[0].Bytes(), p.Primes[1].Bytes()}
		}
		secrets = append(secrets, der)
		for _, sec := range secrets {
			for _, form := range [][]byte{sec[:16], []byte(base64.RawURLEncoding.EncodeToString(sec)[:16]), []byte(base64.StdEncoding.EncodeToString(sec)[:16])} {
				if bytes.Contains(r.sealed, form) || bytes.Contains(r.jwk, form) || strings.Contains(r.all, string(form)) {
					t.Errorf("%s: the database holds private key material", r.kid)
				}
			}
		}
		var members map[string]any
		if err := json.Unmarshal(r.jwk, &members); err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := members[m]; ok {
				t.Errorf("%s: stored public JWK has private member %q", r.kid, m)
			}
		}
		if r.kekID != "k1" {
			t.Errorf("%s: sealed under %q", r.kid, r.kekID)
		}
	}
}

func TestManagerWrongKEKFailsStart(t *testing.T) {
	clk := newClock()
	url := pgtest.NewDatabase(t)
	good := newReplica(t, openStore(t, url), clk)
	start(t, good)
	before := states(t, good)
	cur := before[keys.EdDSA][keys.StateCurrent][0]

	tests := []struct {
		name string
		keks string
		want string
	}{
		{"other key under the same id", kek1Wrong,
			`keys: cannot decrypt signing key ` + cur + `: key-encryption key "k1" does not match, or the sealed key was altered (wrong --key-encryption-keys?)`},
		{"KEK missing", kek2,
			`keys: cannot decrypt signing key ` + cur + `: key-encryption key "k1" is not configured (configured: k2; wrong --key-encryption-keys?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			m := newReplica(t, openStore(t, url), clk, withKEKs(t, tt.keks), withLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			err := m.Start(ctxFor(t))
			if err == nil {
				t.Fatal("Start succeeded with the wrong key-encryption key")
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if !errors.Is(err, keys.ErrDecrypt) {
				t.Error("error does not wrap ErrDecrypt")
			}
			if m.Ready() {
				t.Error("replica is ready")
			}
			// It wrote nothing: a replica with a wrong KEK must not seal
			// keys the others cannot open.
			if diff := cmp.Diff(before, states(t, good)); diff != "" {
				t.Errorf("failed Start changed the ring (-before +after):\n%s", diff)
			}
			for _, entry := range []string{kek1, kek1Wrong, kek2} {
				_, b64, _ := strings.Cut(entry, ":")
				if strings.Contains(err.Error()+logs.String(), b64[:12]) {
					t.Error("error or logs reveal a key-encryption key")
				}
			}
		})
	}
}

func TestManagerRewrap(t *testing.T) {
	clk := newClock()
	url := pgtest.NewDatabase(t)
	old := newReplica(t, openStore(t, url), clk)
	start(t, old)
	// Retire a key too: every stored key moves, not only the signing ones.
	clk.Advance(testP)
	if _, err := old.Rotate(ctxFor(t), keys.EdDSA, false); err != nil {
		t.Fatal(err)
	}
	jwksBefore, _ := old.Snapshot().JWKS()

	both := newReplica(t, openStore(t, url), clk, withKEKs(t, kek2+","+kek1))
	start(t, both)
	n, err := both.Rewrap(ctxFor(t))
	if err != nil {
		t.Fatalf("Rewrap: %v", err)
	}
	if n != 3 {
		t.Errorf("Rewrap moved %d keys, want 3", n)
	}
	infos, err := both.List(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range infos {
		if k.KEKID != "k2" {
			t.Errorf("%s (%s) still under %s", k.KID, k.State, k.KEKID)
		}
	}
	if n, err := both.Rewrap(ctxFor(t)); n != 0 || err != nil {
		t.Errorf("second Rewrap = %d, %v; want 0", n, err)
	}

	// The old KEK can now be dropped.
	onlyNew := newReplica(t, openStore(t, url), clk, withKEKs(t, kek2))
	start(t, onlyNew)
	if jwks, _ := onlyNew.Snapshot().JWKS(); !bytes.Equal(jwks, jwksBefore) {
		t.Errorf("JWKS changed across the rewrap:\n%s\n%s", jwksBefore, jwks)
	}
	k, _ := onlyNew.Snapshot().Signer(keys.EdDSA)
	if _, err := k.Sign([]byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	// …and a replica with only the old one can no longer start.
	if err := newReplica(t, openStore(t, url), clk).Start(ctxFor(t)); !errors.Is(err, keys.ErrDecrypt) {
		t.Errorf("Start with only the dropped KEK = %v, want ErrDecrypt", err)
	}
}

// TestManagerScheduledRotation lets Run's maintenance timer rotate on the
// policy's schedule.
func TestManagerScheduledRotation(t *testing.T) {
	clk := newClock()
	url := pgtest.NewDatabase(t)
	var logs syncBuffer
	m := newReplica(t, openStore(t, url), clk, func(c *keys.Config) {
		c.Policy.RotationPeriod = 24 * time.Hour
		c.MaintainInterval = 20 * time.Millisecond
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	start(t, m)
	first := signerKID(m.Snapshot(), keys.EdDSA)
	run(t, m, nil)

	clk.Advance(24 * time.Hour)
	s := await(t, m, "the scheduled rotation", func(s *keys.Snapshot) bool {
		k := signerKID(s, keys.EdDSA)
		return k != "" && k != first
	})
	if !slices.Contains(s.KIDs(), first) {
		t.Error("the rotated-out key is not published as retired")
	}
	// Past the retirement window the retired key leaves the JWKS on the
	// next reload, and maintenance deletes it. Which comes first depends on
	// Run's timers, so the test runs maintenance itself as well.
	clk.Advance(testRetire)
	await(t, m, "the retired key to go", func(s *keys.Snapshot) bool { return !slices.Contains(s.KIDs(), first) })
	if err := m.Maintain(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	infos, err := m.List(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(infos, func(k keys.KeyInfo) bool { return k.KID == first }) {
		t.Error("the expired key was unpublished but not deleted")
	}
	if out := logs.String(); !strings.Contains(out, "keys: key now signing") || !strings.Contains(out, "keys: expired key deleted") {
		t.Errorf("logs lack the rotation or the deletion:\n%s", out)
	}
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

// TestManagerKeepsLastGoodSnapshot takes the database away under a running
// replica.
func TestManagerKeepsLastGoodSnapshot(t *testing.T) {
	cluster := pgtest.NewCluster(t)
	clk := newClock()
	m := newReplica(t, openStore(t, cluster.URL()), clk)
	start(t, m)
	s := m.Snapshot()

	cluster.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := m.Reload(ctx); err == nil {
		t.Fatal("Reload succeeded without a database")
	}
	if m.Snapshot() != s || !m.Ready() {
		t.Error("a failed reload replaced the snapshot")
	}
	if err := newReplica(t, openStore(t, cluster.URL()), clk).Start(ctx); err == nil {
		t.Error("Start succeeded without a database")
	}
	cluster.Start()
	if err := m.Reload(ctxFor(t)); err != nil {
		t.Fatalf("Reload after the database came back: %v", err)
	}
	if m.Snapshot() != s {
		t.Error("an unchanged ring published a new snapshot")
	}
}

// TestManagerResubscribes breaks a running replica's subscription by
// restarting the database, and checks that notifications reach it again.
func TestManagerResubscribes(t *testing.T) {
	cluster := pgtest.NewCluster(t)
	clk := newClock()
	wb := watch(openStore(t, cluster.URL()))
	b := newReplica(t, wb, clk)
	start(t, b)
	run(t, b, wb)

	cluster.Stop()
	cluster.Start()
	wb.awaitSubscription(t) // after a backoff of about a second

	// The rotation comes from a fresh process (an admin command): a's pool
	// still holds connections the restart closed.
	clk.Advance(testP)
	admin := newReplica(t, openStore(t, cluster.URL()), clk)
	rot, err := admin.Rotate(ctxFor(t), keys.EdDSA, false)
	if err != nil {
		t.Fatal(err)
	}
	await(t, b, "the rotation after resubscribing", func(s *keys.Snapshot) bool {
		return signerKID(s, keys.EdDSA) == rot.Current
	})
}

func TestNewManagerRefusesBadConfig(t *testing.T) {
	// Open does not connect, and NewManager must not either.
	store, err := postgres.Open(t.Context(), "postgres://rotor@127.0.0.1:1/none")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	good := keys.Config{
		Algs:         []keys.Alg{keys.EdDSA},
		Policy:       keys.Policy{PropagationDelay: testP, RetireAfter: testRetire},
		PollInterval: time.Minute,
		KEKs:         mustKEKs(t, kek1),
	}
	tests := []struct {
		name  string
		store keys.Store
		edit  func(*keys.Config)
		want  string
	}{
		{"nil store", nil, func(*keys.Config) {}, "a Store is required"},
		{"no algorithms", store, func(c *keys.Config) { c.Algs = nil }, "at least one signing algorithm"},
		{"unknown algorithm", store, func(c *keys.Config) { c.Algs = []keys.Alg{"HS256"} }, `unsupported signing algorithm "HS256"`},
		{"algorithm twice", store, func(c *keys.Config) { c.Algs = []keys.Alg{keys.EdDSA, keys.EdDSA} }, "enabled twice"},
		{"no KEKs", store, func(c *keys.Config) { c.KEKs = nil }, "key-encryption keys are required"},
		{"bad policy", store, func(c *keys.Config) { c.Policy.RetireAfter = 0 }, "RetireAfter must be positive"},
		{"no poll interval", store, func(c *keys.Config) { c.PollInterval = 0 }, "PollInterval must be positive"},
		{"negative maintain interval", store, func(c *keys.Config) { c.MaintainInterval = -time.Second }, "MaintainInterval must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.edit(&cfg)
			_, err := keys.NewManager(tt.store, cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewManager error = %v, want %q", err, tt.want)
			}
		})
	}
	m, err := keys.NewManager(store, good)
	if err != nil {
		t.Fatal(err)
	}
	_, b64, _ := strings.Cut(kek1, ":")
	for _, out := range []string{fmt.Sprintf("%v|%+v|%#v|%s|%x", m, m, m, m, m), m.String()} {
		if strings.Contains(out, b64[:12]) || !strings.Contains(out, "keys.Manager(") {
			t.Errorf("Manager prints as %q", out)
		}
	}
}
