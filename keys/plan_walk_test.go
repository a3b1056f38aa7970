package keys

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestPlanRandomWalk runs long random sequences of operations on one lane
// with an advancing clock, by actors with different propagation delays (as
// servers and admin commands with different settings would be), and checks
// the invariants after every plan; that a key only ever signs after its
// stamp unless forced or in an emergency; and that admin operations keep
// the lane's delay while Maintain stamps its own. Odd seeds start from a
// lane published before stamps existed.
func TestPlanRandomWalk(t *testing.T) {
	delays := []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour}
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			now := t0
			var lane []Record
			if seed%2 == 1 { // a lane from before stamps
				lane = []Record{stamped(pCur("legacy-cur", t0.Add(-time.Hour)), time.Time{}), stamped(pNext("legacy-next", t0.Add(-time.Minute)), time.Time{})}
			}
			nfresh := 0
			for step := range 300 {
				now = now.Add(time.Duration(rng.Int64N(int64(3 * time.Hour))))
				policy := Policy{RotationPeriod: 12 * time.Hour, PropagationDelay: delays[rng.IntN(len(delays))], RetireAfter: 3 * time.Hour}
				op := randomOp(rng, lane)
				var fresh []Record
				for range rng.IntN(3) {
					nfresh++
					fresh = append(fresh, Record{KID: fmt.Sprintf("k%04d", nfresh), Alg: EdDSA, State: StateNext, CreatedAt: now})
				}
				out, err := Plan(lane, now, policy, op, fresh)
				switch {
				case errors.Is(err, ErrNeedFresh), errors.Is(err, ErrNotPropagated), errors.Is(err, ErrConcurrentRotation), errors.Is(err, ErrKeyNotFound):
					continue
				case err != nil:
					t.Fatalf("step %d: %v: %v", step, op, err)
				}
				c := out.Change
				if len(c.Insert) > len(fresh) {
					t.Fatalf("step %d: inserted %d keys from %d fresh", step, len(c.Insert), len(fresh))
				}
				before := lane
				lane = checkInvariants(t, lane, c)
				checkWalkStep(t, step, op, policy, before, out)
				if t.Failed() {
					t.Fatalf("step %d: %v on %v", step, op, before)
				}
			}
		})
	}
}

func randomOp(rng *rand.Rand, lane []Record) Op {
	switch rng.IntN(10) {
	case 0, 1:
		op := Op{Kind: Rotate, Force: rng.IntN(3) == 0}
		if cur := slices.IndexFunc(lane, func(r Record) bool { return r.State == StateCurrent }); cur >= 0 && rng.IntN(2) == 0 {
			op.ExpectCurrent = lane[cur].KID
		}
		return op
	case 2:
		op := Op{Kind: Revoke, KID: "missing"}
		if len(lane) > 0 {
			op.KID = lane[rng.IntN(len(lane))].KID
		}
		return op
	}
	return Op{Kind: Maintain}
}

// checkWalkStep checks one step's stamps and promotions, and that the
// Outcome names what the Change did.
func checkWalkStep(t *testing.T, step int, op Op, policy Policy, before []Record, out Outcome) {
	t.Helper()
	// A scheduled or unforced rotation promotes only a key whose stamp has
	// passed; only a lane without a current key (or a revocation, or
	// --force) promotes sooner.
	hadCurrent := slices.ContainsFunc(before, func(r Record) bool { return r.State == StateCurrent })
	scheduled := op.Kind == Maintain && hadCurrent || op.Kind == Rotate && !op.Force
	for _, u := range out.Change.Update {
		if u.State == StateCurrent && scheduled && u.ActivatedAt.Before(u.signableAt(policy)) {
			t.Errorf("step %d: %v promoted %s at %v, before %v", step, op.Kind, u.KID, u.ActivatedAt, u.signableAt(policy))
		}
	}
	want := policy.PropagationDelay
	if op.Kind != Maintain {
		want = laneDelay(before, policy)
	}
	for _, r := range out.Change.Insert {
		if r.State == StateNext && r.SignableAt.Sub(r.CreatedAt) != want {
			t.Errorf("step %d: %v stamped next key %s with %v, want %v", step, op.Kind, r.KID, r.SignableAt.Sub(r.CreatedAt), want)
		}
	}
	if out.Published != "" && !slices.ContainsFunc(out.Change.Insert, func(r Record) bool { return r.KID == out.Published && r.State == StateNext }) {
		t.Errorf("step %d: Outcome.Published %s is not an inserted next key", step, out.Published)
	}
	if out.Activated != "" && !slices.ContainsFunc(slices.Concat(out.Change.Insert, out.Change.Update), func(r Record) bool { return r.KID == out.Activated && r.State == StateCurrent }) {
		t.Errorf("step %d: Outcome.Activated %s is not made current by the change", step, out.Activated)
	}
	if out.Retired != "" && !slices.ContainsFunc(out.Change.Update, func(r Record) bool { return r.KID == out.Retired && r.State == StateRetired }) {
		t.Errorf("step %d: Outcome.Retired %s is not retired by the change", step, out.Retired)
	}
	if out.Revoked != "" && !slices.ContainsFunc(out.Change.Update, func(r Record) bool { return r.KID == out.Revoked && r.State == StateRevoked }) {
		t.Errorf("step %d: Outcome.Revoked %s is not revoked by the change", step, out.Revoked)
	}
}
