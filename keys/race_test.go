package keys_test

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/keys"
)

// Bursts of lifecycle operations from several replicas at once. Each
// goroutine is one actor; they are released together and every operation
// races the others' on the lane lock. Errors that a race legitimately
// produces (another rotation won, the next key is too young, the key was
// deleted) are tolerated; anything else fails the test, and so does any
// broken invariant afterwards.

// raceOps is how many operations each actor makes.
const raceOps = 15

// tolerated reports whether err is an outcome of losing a race.
func tolerated(err error) bool {
	return err == nil || errors.Is(err, keys.ErrConcurrentRotation) || errors.Is(err, keys.ErrNotPropagated) || errors.Is(err, keys.ErrKeyNotFound)
}

// burst runs the actors together and waits for all of them.
func burst(actors ...func()) {
	var wg sync.WaitGroup
	release := make(chan struct{})
	for _, a := range actors {
		wg.Go(func() {
			<-release
			a()
		})
	}
	close(release)
	wg.Wait()
}

// checkLane checks the stored lane and the replicas' snapshots after a
// burst: one current and one next key, every replica signing with the
// current key and publishing the same JWKS, none publishing a revoked key.
func checkLane(t *testing.T, alg keys.Alg, ms ...*keys.Manager) {
	t.Helper()
	for _, m := range ms {
		if err := m.Reload(ctxFor(t)); err != nil {
			t.Fatal(err)
		}
	}
	st := states(t, ms[0])[alg]
	if len(st[keys.StateCurrent]) != 1 || len(st[keys.StateNext]) != 1 {
		t.Fatalf("lane after the burst: %v; want one current and one next", st)
	}
	body0, _ := ms[0].Snapshot().JWKS()
	for i, m := range ms {
		s := m.Snapshot()
		if got := signerKID(s, alg); got != st[keys.StateCurrent][0] {
			t.Errorf("replica %d signs with %s, want the current key %s", i, got, st[keys.StateCurrent][0])
		}
		for _, kid := range st[keys.StateRevoked] {
			if slices.Contains(s.KIDs(), kid) {
				t.Errorf("replica %d publishes revoked key %s", i, kid)
			}
		}
		if body, _ := s.JWKS(); string(body) != string(body0) {
			t.Errorf("replica %d publishes another JWKS:\n%s\n%s", i, body0, body)
		}
	}
}

// TestManagerRevokeRacesRotateAndMaintain: an admin revokes keys while
// another admin rotates (forced or not) and a replica runs scheduled
// maintenance on an advancing clock. Every revocation must take effect at
// once on the revoking replica, and the lane must end consistent.
func TestManagerRevokeRacesRotateAndMaintain(t *testing.T) {
	clk := newClock()
	url := pgtest.NewDatabase(t)
	scheduled := func(c *keys.Config) { c.Policy.RotationPeriod = 2 * testP }
	server := newReplica(t, openStore(t, url), clk, scheduled)
	start(t, server)
	rotator := newReplica(t, openStore(t, url), clk)
	revoker := newReplica(t, openStore(t, url), clk)

	var mu sync.Mutex
	var revoked []string
	rotated := 0
	fail := func(who string, i int, err error) { t.Errorf("%s, operation %d: %v", who, i, err) }
	burst(
		func() {
			for i := range raceOps {
				_, err := rotator.Rotate(ctxFor(t), keys.EdDSA, i%3 == 0)
				if !tolerated(err) {
					fail("rotate", i, err)
				}
				if err == nil {
					rotated++
				}
			}
		},
		func() {
			for i := range raceOps {
				kid := pickKey(t, revoker, i)
				rev, err := revoker.Revoke(ctxFor(t), kid)
				if !tolerated(err) {
					fail("revoke", i, err)
					continue
				}
				if err != nil {
					continue
				}
				// The revoking replica has reloaded when Revoke returns.
				if slices.Contains(revoker.Snapshot().KIDs(), kid) || signerKID(revoker.Snapshot(), keys.EdDSA) == kid {
					t.Errorf("revoke %d: %s (was %s) still published by the revoking replica", i, kid, rev.PreviousState)
				}
				mu.Lock()
				revoked = append(revoked, kid)
				mu.Unlock()
			}
		},
		func() {
			for i := range raceOps {
				clk.Advance(testP / 3)
				if err := server.Maintain(ctxFor(t)); err != nil {
					fail("maintain", i, err)
				}
			}
		},
	)
	checkLane(t, keys.EdDSA, server, rotator, revoker)
	t.Logf("%d rotations and %d revocations succeeded", rotated, len(revoked))
	if len(revoked) == 0 || rotated == 0 {
		t.Fatal("no revocation or no rotation succeeded: the burst tested nothing")
	}
	// A revoked key stays revoked (until deleted): never current, next or
	// retired again.
	st := states(t, server)[keys.EdDSA]
	for _, kid := range revoked {
		for _, s := range []keys.State{keys.StateCurrent, keys.StateNext, keys.StateRetired} {
			if slices.Contains(st[s], kid) {
				t.Errorf("revoked key %s is %s again", kid, s)
			}
		}
	}
}

// pickKey chooses a key to revoke: alternately the current and the next
// key as the replica last saw them (so that the pick races the rotations),
// now and then a retired one.
func pickKey(t *testing.T, m *keys.Manager, i int) string {
	t.Helper()
	st := states(t, m)[keys.EdDSA]
	want := []keys.State{keys.StateCurrent, keys.StateNext, keys.StateCurrent, keys.StateRetired}[i%4]
	if kids := st[want]; len(kids) > 0 {
		return kids[0]
	}
	return st[keys.StateNext][0]
}

// TestManagerRewrapRacesRotation: keys sealed under an old KEK are rewrapped
// under the new primary while other replicas (configured with both KEKs)
// rotate and revoke. No key may be lost or left under the old KEK: after
// the burst, a replica that has only the new KEK starts, signs, and
// publishes what the others publish.
func TestManagerRewrapRacesRotation(t *testing.T) {
	clk := newClock()
	url := pgtest.NewDatabase(t)
	old := newReplica(t, openStore(t, url), clk)
	start(t, old)
	for range 3 { // some retired keys under the old KEK too
		if _, err := old.Rotate(ctxFor(t), keys.EdDSA, true); err != nil {
			t.Fatal(err)
		}
	}
	both := func() *keys.Manager { return newReplica(t, openStore(t, url), clk, withKEKs(t, kek2+","+kek1)) }
	rotator, revoker, rewrapper := both(), both(), both()
	moved := 0
	burst(
		func() {
			for i := range raceOps {
				if _, err := rotator.Rotate(ctxFor(t), keys.EdDSA, true); !tolerated(err) {
					t.Errorf("rotate %d: %v", i, err)
				}
			}
		},
		func() {
			for i := range raceOps {
				if _, err := revoker.Revoke(ctxFor(t), pickKey(t, revoker, i)); !tolerated(err) {
					t.Errorf("revoke %d: %v", i, err)
				}
			}
		},
		func() {
			for i := range raceOps {
				n, err := rewrapper.Rewrap(ctxFor(t))
				if err != nil {
					t.Errorf("rewrap %d: %v", i, err)
				}
				moved += n
			}
		},
	)
	if moved == 0 {
		t.Fatal("Rewrap moved nothing: the burst tested nothing")
	}
	infos, err := rewrapper.List(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range infos {
		if k.KEKID != "k2" {
			t.Errorf("%s (%s) is still sealed under %s", k.KID, k.State, k.KEKID)
		}
	}
	onlyNew := newReplica(t, openStore(t, url), clk, withKEKs(t, kek2))
	start(t, onlyNew)
	checkLane(t, keys.EdDSA, onlyNew, rotator, revoker, rewrapper)
	k, _ := onlyNew.Snapshot().Signer(keys.EdDSA)
	tok, err := k.Sign([]byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := rotator.Snapshot().Verify(tok, clk.Now()); err != nil {
		t.Errorf("a token of the replica with only the new KEK does not verify elsewhere: %v", err)
	}
	t.Logf("Rewrap moved %d keys during the burst", moved)
}
