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
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
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
			// Raw, base64 (JWK members, PEM) and hex: the row as text shows
			// every bytea column as \x and lowercase hex.
			forms := map[string][]byte{
				"raw":       sec[:16],
				"base64url": []byte(base64.RawURLEncoding.EncodeToString(sec)[:16]),
				"base64":    []byte(base64.StdEncoding.EncodeToString(sec)[:16]),
				"hex":       []byte(hex.EncodeToString(sec[:16])),
			}
			for name, form := range forms {
				if bytes.Contains(r.sealed, form) || bytes.Contains(r.jwk, form) || strings.Contains(r.all, string(form)) {
					t.Errorf("%s: the database holds private key material (%s)", r.kid, name)
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
