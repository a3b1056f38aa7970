package keys_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/keys"
)

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

// TestManagerAdminObeysServerStamp: an admin command run with other timing
// settings than the servers' (say, without their flags) judges a rotation
// by the stamp the server put on the next key, in both directions, and the
// next key it publishes keeps the servers' delay rather than its own.
func TestManagerAdminObeysServerStamp(t *testing.T) {
	const short, long = 5 * time.Minute, 2 * time.Hour
	tests := []struct {
		name            string
		serverP, adminP time.Duration
	}{
		{"admin with a shorter delay cannot promote early", long, short},
		{"admin with a longer delay is not held back", short, long},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			url := pgtest.NewDatabase(t)
			server := newReplica(t, openStore(t, url), clk, withDelay(tt.serverP))
			start(t, server)
			next := states(t, server)[keys.EdDSA][keys.StateNext][0]
			admin := newReplica(t, openStore(t, url), clk, withDelay(tt.adminP))
			if got, want := keyInfo(t, admin, next).SignableAt, clk.Now().Add(tt.serverP); !got.Equal(want) {
				t.Errorf("admin lists the next key as signable at %v, want the server's stamp %v", got, want)
			}

			clk.Advance(tt.serverP - time.Second)
			_, err := admin.Rotate(ctxFor(t), keys.EdDSA, false)
			var np *keys.NotPropagatedError
			if !errors.As(err, &np) || np.KID != next || np.Delay != tt.serverP || np.Wait() != time.Second {
				t.Fatalf("Rotate a second before the stamp = %v (%+v), want a refusal with the server's delay %v", err, np, tt.serverP)
			}

			clk.Advance(time.Second)
			rot, err := admin.Rotate(ctxFor(t), keys.EdDSA, false)
			if err != nil || rot.Current != next {
				t.Fatalf("Rotate at the stamp = %+v, %v; want %s promoted", rot, err, next)
			}
			want := clk.Now().Add(tt.serverP)
			if !rot.NextSignableAt.Equal(want) {
				t.Errorf("fresh next key signable at %v, want now + the server's delay = %v", rot.NextSignableAt, want)
			}
			if got := keyInfo(t, server, rot.Next).SignableAt; !got.Equal(want) {
				t.Errorf("server lists the fresh next key as signable at %v, want %v", got, want)
			}
		})
	}
}

func keyInfo(t *testing.T, m *keys.Manager, kid string) keys.KeyInfo {
	t.Helper()
	infos, err := m.List(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(infos, func(k keys.KeyInfo) bool { return k.KID == kid })
	if i < 0 {
		t.Fatalf("key %s not listed", kid)
	}
	return infos[i]
}

// TestManagerServerStampsKeysFromBeforeStamps: after the upgrade that added
// stamps, the lane's next key has none. An admin judges it by its own delay,
// as before, until a server's maintenance stamps it with the server's.
func TestManagerServerStampsKeysFromBeforeStamps(t *testing.T) {
	const serverP, adminP = 2 * time.Hour, 5 * time.Minute
	clk := newClock()
	url := pgtest.NewDatabase(t)
	server := newReplica(t, openStore(t, url), clk, withDelay(serverP))
	start(t, server)
	conn, err := pgx.Connect(ctxFor(t), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctxFor(t), `UPDATE signing_keys SET signable_at = NULL`); err != nil {
		t.Fatal(err)
	}
	next := states(t, server)[keys.EdDSA][keys.StateNext][0]
	created := keyInfo(t, server, next).CreatedAt
	admin := newReplica(t, openStore(t, url), clk, withDelay(adminP))
	if got := keyInfo(t, admin, next).SignableAt; !got.Equal(created.Add(adminP)) {
		t.Errorf("unstamped next key listed as signable at %v, want the admin's own judgement %v", got, created.Add(adminP))
	}

	if err := server.Maintain(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	if got := keyInfo(t, admin, next).SignableAt; !got.Equal(created.Add(serverP)) {
		t.Errorf("after the server's maintenance the next key is signable at %v, want %v", got, created.Add(serverP))
	}
	clk.Advance(adminP)
	if _, err := admin.Rotate(ctxFor(t), keys.EdDSA, false); !errors.Is(err, keys.ErrNotPropagated) {
		t.Errorf("admin Rotate after its own delay but before the server's stamp = %v, want ErrNotPropagated", err)
	}
}
