package keys

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var testPolicy = Policy{
	RotationPeriod:   7 * 24 * time.Hour,
	PropagationDelay: time.Hour,
	RetireAfter:      2 * time.Hour,
}

// Plan does not look at key material, so these records have none.

// pNext is a next key published at created by a replica with testPolicy.
func pNext(kid string, created time.Time) Record {
	return Record{KID: kid, Alg: EdDSA, State: StateNext, KEKID: "k1", CreatedAt: created, SignableAt: created.Add(testPolicy.PropagationDelay)}
}

func pCur(kid string, activated time.Time) Record {
	r := pNext(kid, activated.Add(-24*time.Hour))
	r.State, r.ActivatedAt = StateCurrent, activated
	return r
}

func pRet(kid string, retired time.Time) Record {
	r := pCur(kid, retired.Add(-7*24*time.Hour))
	r.State, r.RetiredAt = StateRetired, retired
	return r
}

func pRev(r Record, revoked time.Time) Record {
	r.State, r.RevokedAt = StateRevoked, revoked
	return r
}

// stamped is r as published by someone whose propagation delay made it
// signable at t; a zero t is a key published before stamps existed.
func stamped(r Record, t time.Time) Record {
	r.SignableAt = t
	return r
}

// pFresh are keys as Generate returns them (no stamp), made earlier than
// they are used.
func pFresh(n int) []Record {
	var out []Record
	for i := range n {
		out = append(out, Record{KID: fmt.Sprintf("fresh%d", i+1), Alg: EdDSA, State: StateNext, KEKID: "k1", CreatedAt: t0.Add(-time.Minute)})
	}
	return out
}

// inserted is fresh key i (1-based) as Plan inserts it at now: signable at
// once if current, after testPolicy's delay if next.
func inserted(i int, s State, now time.Time) Record {
	return insertedAfter(i, s, now, testPolicy.PropagationDelay)
}

// insertedAfter is inserted with a next key stamped with delay.
func insertedAfter(i int, s State, now time.Time, delay time.Duration) Record {
	r := Record{KID: fmt.Sprintf("fresh%d", i), Alg: EdDSA, State: s, KEKID: "k1", CreatedAt: now, SignableAt: now.Add(delay)}
	if s == StateCurrent {
		r.ActivatedAt, r.SignableAt = now, now
	}
	return r
}

func promoted(r Record, now time.Time) Record {
	r.State, r.ActivatedAt = StateCurrent, now
	return r
}

func retired(r Record, now time.Time) Record {
	r.State, r.RetiredAt = StateRetired, now
	return r
}

type planCase struct {
	name    string
	lane    []Record
	policy  Policy
	op      Op
	fresh   int
	want    Outcome // At is filled in
	wantErr error
}

func TestPlan(t *testing.T) {
	var tests []planCase
	tests = append(tests, maintainCases()...)
	tests = append(tests, rotateCases()...)
	tests = append(tests, revokeCases()...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.policy
			if p == (Policy{}) {
				p = testPolicy
			}
			// Plan must not depend on the lane's order.
			lane := slices.Clone(tt.lane)
			slices.Reverse(lane)
			got, err := Plan(lane, t0, p, tt.op, pFresh(tt.fresh))
			if tt.wantErr != nil {
				checkPlanErr(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			tt.want.At = t0
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Plan (-want +got):\n%s", diff)
			}
			after := checkInvariants(t, tt.lane, got.Change)
			if tt.op.Kind == Revoke && !slices.ContainsFunc(after, func(r Record) bool { return r.KID == tt.op.KID && r.State == StateRevoked }) {
				t.Errorf("key %s is not revoked after the plan", tt.op.KID)
			}
		})
	}
}

func maintainCases() []planCase {
	now := t0
	week := testPolicy.RotationPeriod
	P := testPolicy.PropagationDelay
	oldCur := pCur("cur", now.Add(-week))               // due for rotation
	freshCur := pCur("cur", now.Add(-time.Hour))        // not due
	oldNext := pNext("next", now.Add(-P))               // published exactly P: may sign
	youngNext := pNext("next", now.Add(-P+time.Second)) // one second short
	noRotation := testPolicy
	noRotation.RotationPeriod = 0
	rotated := Outcome{
		Change:    Change{Insert: []Record{inserted(1, StateNext, now)}, Update: []Record{retired(oldCur, now), promoted(oldNext, now)}},
		Published: "fresh1", Activated: "next", Retired: "cur",
	}
	return []planCase{
		{
			name: "first start: empty lane gets a current and a next", op: Op{Kind: Maintain}, fresh: 2,
			want: Outcome{Change: Change{Insert: []Record{inserted(1, StateCurrent, now), inserted(2, StateNext, now)}}, Activated: "fresh1", Published: "fresh2"},
		},
		{
			name: "first start with too few fresh keys", op: Op{Kind: Maintain}, fresh: 1,
			wantErr: &NeedFreshError{Need: 2, Have: 1},
		},
		{
			name: "no next: create one", lane: []Record{freshCur}, op: Op{Kind: Maintain}, fresh: 2,
			want: Outcome{Change: Change{Insert: []Record{inserted(1, StateNext, now)}}, Published: "fresh1"},
		},
		{
			name: "a server stamps its own P, whatever the lane's keys were stamped with", op: Op{Kind: Maintain}, fresh: 1,
			lane: []Record{stamped(freshCur, freshCur.CreatedAt.Add(5*time.Hour))},
			want: Outcome{Change: Change{Insert: []Record{inserted(1, StateNext, now)}}, Published: "fresh1"},
		},
		{
			name: "steady state: nothing to do", lane: []Record{freshCur, oldNext}, op: Op{Kind: Maintain}, fresh: 2,
		},
		{
			name: "steady state needs no fresh keys", lane: []Record{freshCur, oldNext}, op: Op{Kind: Maintain},
		},
		{
			name: "rotation due and next signable: rotate", lane: []Record{oldCur, oldNext}, op: Op{Kind: Maintain}, fresh: 2,
			want: rotated,
		},
		{
			name: "rotation due one second early: wait", lane: []Record{pCur("cur", now.Add(-week+time.Second)), oldNext}, op: Op{Kind: Maintain}, fresh: 2,
		},
		{
			name: "rotation due but next too young: wait", lane: []Record{oldCur, youngNext}, op: Op{Kind: Maintain}, fresh: 2,
		},
		{
			name: "rotation due, next published P ago by a replica with a longer P: wait", op: Op{Kind: Maintain}, fresh: 2,
			lane: []Record{oldCur, stamped(oldNext, now.Add(time.Second))},
		},
		{
			name: "rotation due, next published by a replica with a shorter P: rotate", op: Op{Kind: Maintain}, fresh: 2,
			lane: []Record{oldCur, stamped(pNext("next", now.Add(-time.Minute)), now)},
			want: Outcome{
				Change: Change{
					Insert: []Record{inserted(1, StateNext, now)},
					Update: []Record{retired(oldCur, now), promoted(stamped(pNext("next", now.Add(-time.Minute)), now), now)},
				},
				Published: "fresh1", Activated: "next", Retired: "cur",
			},
		},
		{
			name: "a next key from before stamps gets the server's", op: Op{Kind: Maintain},
			lane: []Record{freshCur, stamped(youngNext, time.Time{})},
			want: Outcome{Change: Change{Update: []Record{stamped(youngNext, youngNext.CreatedAt.Add(P))}}},
		},
		{
			name: "the server's own stamp on an unstamped next decides a due rotation: wait", op: Op{Kind: Maintain}, fresh: 2,
			lane: []Record{oldCur, stamped(youngNext, time.Time{})},
			want: Outcome{Change: Change{Update: []Record{stamped(youngNext, youngNext.CreatedAt.Add(P))}}},
		},
		{
			name: "the server's own stamp on an unstamped next decides a due rotation: rotate", op: Op{Kind: Maintain}, fresh: 2,
			lane: []Record{oldCur, stamped(oldNext, time.Time{})},
			want: Outcome{
				Change: Change{
					Insert: []Record{inserted(1, StateNext, now)},
					Update: []Record{retired(oldCur, now), promoted(stamped(oldNext, oldNext.CreatedAt.Add(P)), now)},
				},
				Published: "fresh1", Activated: "next", Retired: "cur",
			},
		},
		{
			name: "rotation due but no next: create next, rotate later", lane: []Record{oldCur}, op: Op{Kind: Maintain}, fresh: 2,
			want: Outcome{Change: Change{Insert: []Record{inserted(1, StateNext, now)}}, Published: "fresh1"},
		},
		{
			name: "rotation period 0 never rotates", lane: []Record{pCur("cur", now.Add(-100*week)), oldNext}, policy: noRotation, op: Op{Kind: Maintain},
		},
		{
			name: "retired keys are deleted once their window has passed",
			lane: []Record{
				freshCur, oldNext,
				pRet("expired", now.Add(-2*time.Hour)),
				pRet("live", now.Add(-2*time.Hour+time.Second)),
				pRet("long-gone", now.Add(-30*24*time.Hour)),
			},
			op:   Op{Kind: Maintain},
			want: Outcome{Change: Change{Delete: []string{"expired", "long-gone"}}},
		},
		{
			name: "revoked keys are deleted after the same window",
			lane: []Record{
				freshCur, oldNext,
				pRev(pRet("old", now.Add(-time.Hour)), now.Add(-2*time.Hour)),
				pRev(pNext("recent", now.Add(-time.Hour)), now.Add(-time.Minute)),
			},
			op:   Op{Kind: Maintain},
			want: Outcome{Change: Change{Delete: []string{"old"}}},
		},
		{
			name: "rotation and deletion in one change",
			lane: []Record{oldCur, oldNext, pRet("expired", now.Add(-3*time.Hour))},
			op:   Op{Kind: Maintain}, fresh: 1,
			want: Outcome{
				Change:    Change{Insert: rotated.Change.Insert, Update: rotated.Change.Update, Delete: []string{"expired"}},
				Published: "fresh1", Activated: "next", Retired: "cur",
			},
		},
		{
			name: "next but no current: promote next at once", lane: []Record{youngNext}, op: Op{Kind: Maintain}, fresh: 1,
			want: Outcome{Change: Change{Insert: []Record{inserted(1, StateNext, now)}, Update: []Record{promoted(youngNext, now)}}, Activated: "next", Published: "fresh1"},
		},
		{
			name: "only retired and revoked keys: start over",
			lane: []Record{pRet("r", now.Add(-time.Hour)), pRev(pCur("x", now.Add(-time.Hour)), now.Add(-time.Minute))},
			op:   Op{Kind: Maintain}, fresh: 2,
			want: Outcome{Change: Change{Insert: []Record{inserted(1, StateCurrent, now), inserted(2, StateNext, now)}}, Activated: "fresh1", Published: "fresh2"},
		},
		{
			name: "repair: two current keys keep the newest, two next keys keep the oldest",
			lane: []Record{pCur("c-old", now.Add(-2*time.Hour)), pCur("c-new", now.Add(-time.Hour)), pNext("n-old", now.Add(-2*P)), pNext("n-new", now.Add(-time.Minute))},
			op:   Op{Kind: Maintain},
			want: Outcome{Change: Change{Update: []Record{
				retired(pCur("c-old", now.Add(-2*time.Hour)), now),
				retired(pNext("n-new", now.Add(-time.Minute)), now),
			}}},
		},
	}
}

func rotateCases() []planCase {
	now := t0
	P := testPolicy.PropagationDelay
	freshCur := pCur("cur", now.Add(-time.Hour))
	oldNext := pNext("next", now.Add(-P))
	youngNext := pNext("next", now.Add(-P+time.Second))
	rotation := func(next Record, delay time.Duration) Outcome {
		return Outcome{
			Change:    Change{Insert: []Record{insertedAfter(1, StateNext, now, delay)}, Update: []Record{retired(freshCur, now), promoted(next, now)}},
			Published: "fresh1", Activated: next.KID, Retired: "cur",
		}
	}
	// Published 2h ago by a server whose P is 3h; the caller's P is 1h.
	longP := stamped(pNext("next", now.Add(-2*time.Hour)), now.Add(time.Hour))
	// Published 10m ago by a server whose P is 10m; the caller's P is 1h.
	shortP := stamped(pNext("next", now.Add(-10*time.Minute)), now)
	// A current key made current at once says nothing about the delay; an
	// older key's 5m is superseded by the newest next key's 3h.
	atOnce := stamped(freshCur, freshCur.CreatedAt)
	threeHours := stamped(pNext("next", now.Add(-4*time.Hour)), now.Add(-time.Hour))
	older := pRet("old", now.Add(-time.Hour))
	older = stamped(older, older.CreatedAt.Add(5*time.Minute))
	return []planCase{
		{
			name: "rotate: promote, retire, fresh next", lane: []Record{freshCur, oldNext}, op: Op{Kind: Rotate}, fresh: 1,
			want: rotation(oldNext, P),
		},
		{
			name: "rotate with the expected current", lane: []Record{freshCur, oldNext}, op: Op{Kind: Rotate, ExpectCurrent: "cur"}, fresh: 1,
			want: rotation(oldNext, P),
		},
		{
			name: "rotate refuses a young next", lane: []Record{freshCur, youngNext}, op: Op{Kind: Rotate}, fresh: 1,
			wantErr: &NotPropagatedError{Alg: EdDSA, KID: "next", Published: P - time.Second, Delay: P, SignableAt: now.Add(time.Second)},
		},
		{
			name: "rotate obeys a stamp later than the caller's P allows", lane: []Record{freshCur, longP}, op: Op{Kind: Rotate}, fresh: 1,
			wantErr: &NotPropagatedError{Alg: EdDSA, KID: "next", Published: 2 * time.Hour, Delay: 3 * time.Hour, SignableAt: now.Add(time.Hour)},
		},
		{
			name: "rotate is not held back by a caller's P longer than the stamp", lane: []Record{freshCur, shortP}, op: Op{Kind: Rotate}, fresh: 1,
			want: rotation(shortP, 10*time.Minute),
		},
		{
			name: "rotate judges a next key published before stamps by the caller's P", lane: []Record{freshCur, stamped(youngNext, time.Time{})}, op: Op{Kind: Rotate}, fresh: 1,
			wantErr: &NotPropagatedError{Alg: EdDSA, KID: "next", Published: P - time.Second, Delay: P, SignableAt: now.Add(time.Second)},
		},
		{
			name: "the fresh next keeps the delay of the newest key published as next",
			lane: []Record{atOnce, threeHours, older}, op: Op{Kind: Rotate}, fresh: 1,
			want: Outcome{
				Change: Change{
					Insert: []Record{insertedAfter(1, StateNext, now, 3*time.Hour)},
					Update: []Record{retired(atOnce, now), promoted(threeHours, now)},
				},
				Published: "fresh1", Activated: "next", Retired: "cur",
			},
		},
		{
			name: "rotate --force promotes a young next", lane: []Record{freshCur, youngNext}, op: Op{Kind: Rotate, Force: true}, fresh: 1,
			want: rotation(youngNext, P),
		},
		{
			name: "rotate --force promotes a next the stamp holds back", lane: []Record{freshCur, longP}, op: Op{Kind: Rotate, Force: true}, fresh: 1,
			want: rotation(longP, 3*time.Hour),
		},
		{
			name: "rotate after another rotation won the race", lane: []Record{freshCur, oldNext}, op: Op{Kind: Rotate, ExpectCurrent: "someone-else"}, fresh: 1,
			wantErr: ErrConcurrentRotation,
		},
		{
			name: "rotate --force after another rotation won the race", lane: []Record{freshCur, youngNext}, op: Op{Kind: Rotate, Force: true, ExpectCurrent: "someone-else"}, fresh: 1,
			wantErr: ErrConcurrentRotation,
		},
		{
			name: "rotate without a next key", lane: []Record{freshCur}, op: Op{Kind: Rotate}, fresh: 2,
			wantErr: &NotPropagatedError{Alg: EdDSA, Delay: P},
		},
		{
			name: "rotate --force without a next key uses two fresh keys", lane: []Record{freshCur}, op: Op{Kind: Rotate, Force: true}, fresh: 2,
			want: Outcome{
				Change:    Change{Insert: []Record{inserted(1, StateCurrent, now), inserted(2, StateNext, now)}, Update: []Record{retired(freshCur, now)}},
				Activated: "fresh1", Published: "fresh2", Retired: "cur",
			},
		},
		{
			name: "rotate --force on a lane without stamps stamps the caller's P", lane: []Record{stamped(freshCur, time.Time{})}, op: Op{Kind: Rotate, Force: true}, fresh: 2,
			policy: Policy{PropagationDelay: 5 * time.Minute, RetireAfter: time.Hour},
			want: Outcome{
				Change:    Change{Insert: []Record{inserted(1, StateCurrent, now), insertedAfter(2, StateNext, now, 5*time.Minute)}, Update: []Record{retired(stamped(freshCur, time.Time{}), now)}},
				Activated: "fresh1", Published: "fresh2", Retired: "cur",
			},
		},
		{
			name: "rotate without a fresh key", lane: []Record{freshCur, oldNext}, op: Op{Kind: Rotate},
			wantErr: &NeedFreshError{Need: 1, Have: 0},
		},
		{
			name: "rotate does not delete (only Maintain does)", lane: []Record{freshCur, oldNext, pRet("expired", now.Add(-3*time.Hour))}, op: Op{Kind: Rotate}, fresh: 1,
			want: rotation(oldNext, P),
		},
	}
}

func revokeCases() []planCase {
	now := t0
	P := testPolicy.PropagationDelay
	freshCur := pCur("cur", now.Add(-time.Hour))
	oldNext := pNext("next", now.Add(-P))
	youngNext := pNext("next", now.Add(-P+time.Second))
	old := pRet("old", now.Add(-time.Hour))
	gone := pRev(old, now.Add(-time.Minute))
	return []planCase{
		{
			name: "revoke current: next promoted at once, even young", lane: []Record{freshCur, youngNext}, op: Op{Kind: Revoke, KID: "cur"}, fresh: 1,
			want: Outcome{
				Change:  Change{Insert: []Record{inserted(1, StateNext, now)}, Update: []Record{pRev(freshCur, now), promoted(youngNext, now)}},
				Revoked: "cur", Previous: freshCur, Activated: "next", Published: "fresh1",
			},
		},
		{
			name: "revoke current: the fresh next keeps the lane's delay", lane: []Record{freshCur, stamped(youngNext, youngNext.CreatedAt.Add(3*time.Hour))}, op: Op{Kind: Revoke, KID: "cur"}, fresh: 1,
			want: Outcome{
				Change:  Change{Insert: []Record{insertedAfter(1, StateNext, now, 3*time.Hour)}, Update: []Record{pRev(freshCur, now), promoted(stamped(youngNext, youngNext.CreatedAt.Add(3*time.Hour)), now)}},
				Revoked: "cur", Previous: freshCur, Activated: "next", Published: "fresh1",
			},
		},
		{
			name: "revoke current without a next", lane: []Record{freshCur}, op: Op{Kind: Revoke, KID: "cur"}, fresh: 2,
			want: Outcome{
				Change:  Change{Insert: []Record{inserted(1, StateCurrent, now), inserted(2, StateNext, now)}, Update: []Record{pRev(freshCur, now)}},
				Revoked: "cur", Previous: freshCur, Activated: "fresh1", Published: "fresh2",
			},
		},
		{
			name: "revoke next: a fresh next", lane: []Record{freshCur, oldNext}, op: Op{Kind: Revoke, KID: "next"}, fresh: 1,
			want: Outcome{
				Change:  Change{Insert: []Record{inserted(1, StateNext, now)}, Update: []Record{pRev(oldNext, now)}},
				Revoked: "next", Previous: oldNext, Published: "fresh1",
			},
		},
		{
			name: "revoke retired", lane: []Record{freshCur, oldNext, old}, op: Op{Kind: Revoke, KID: "old"},
			want: Outcome{Change: Change{Update: []Record{pRev(old, now)}}, Revoked: "old", Previous: old},
		},
		{
			name: "revoke revoked: no change, no error", lane: []Record{freshCur, oldNext, gone}, op: Op{Kind: Revoke, KID: "old"},
			want: Outcome{Previous: gone},
		},
		{
			name: "revoke unknown kid", lane: []Record{freshCur, oldNext}, op: Op{Kind: Revoke, KID: "nope"}, fresh: 1,
			wantErr: ErrKeyNotFound,
		},
		{
			name: "revoke current without fresh keys", lane: []Record{freshCur, oldNext}, op: Op{Kind: Revoke, KID: "cur"},
			wantErr: &NeedFreshError{Need: 1, Have: 0},
		},
	}
}

func checkPlanErr(t *testing.T, err, want error) {
	t.Helper()
	switch w := want.(type) {
	case *NotPropagatedError:
		var got *NotPropagatedError
		if !errors.As(err, &got) {
			t.Fatalf("Plan error = %v, want %v", err, want)
		}
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("NotPropagatedError (-want +got):\n%s", diff)
		}
		if !errors.Is(err, ErrNotPropagated) {
			t.Error("does not wrap ErrNotPropagated")
		}
	case *NeedFreshError:
		var got *NeedFreshError
		if !errors.As(err, &got) {
			t.Fatalf("Plan error = %v, want %v", err, want)
		}
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("NeedFreshError (-want +got):\n%s", diff)
		}
	default:
		if !errors.Is(err, want) {
			t.Fatalf("Plan error = %v, want %v", err, want)
		}
	}
}

// apply does what a store does with a Change.
func apply(t *testing.T, lane []Record, c Change) []Record {
	t.Helper()
	out := slices.Clone(lane)
	for _, u := range c.Update {
		i := slices.IndexFunc(out, func(r Record) bool { return r.KID == u.KID })
		if i < 0 {
			t.Fatalf("update of unknown key %s", u.KID)
		}
		o := out[i]
		if u.Alg != o.Alg || u.KEKID != o.KEKID || !u.CreatedAt.Equal(o.CreatedAt) || string(u.Sealed) != string(o.Sealed) {
			t.Fatalf("update of %s changes more than state and times", u.KID)
		}
		if !o.SignableAt.IsZero() && !u.SignableAt.Equal(o.SignableAt) {
			t.Fatalf("update of %s moves its stamp from %v to %v", u.KID, o.SignableAt, u.SignableAt)
		}
		out[i] = u
	}
	for _, kid := range c.Delete {
		i := slices.IndexFunc(out, func(r Record) bool { return r.KID == kid })
		if i < 0 {
			t.Fatalf("delete of unknown key %s", kid)
		}
		out = slices.Delete(out, i, i+1)
	}
	for _, r := range c.Insert {
		if slices.ContainsFunc(out, func(o Record) bool { return o.KID == r.KID }) {
			t.Fatalf("insert of existing key %s", r.KID)
		}
		out = append(out, r)
	}
	return out
}

var stateRank = map[State]int{StateNext: 0, StateCurrent: 1, StateRetired: 2, StateRevoked: 3}

// checkInvariants applies c to before and checks the lane invariants:
// at most one current, exactly one next, no state moving backwards, deletes
// only of retired or revoked keys, and every inserted key stamped (at once
// if it signs at once, later if it is next).
func checkInvariants(t *testing.T, before []Record, c Change) []Record {
	t.Helper()
	after := apply(t, before, c)
	count := map[State]int{}
	for _, r := range after {
		count[r.State]++
	}
	if count[StateCurrent] > 1 {
		t.Errorf("%d current keys after the plan", count[StateCurrent])
	}
	if count[StateNext] != 1 && !c.Empty() {
		t.Errorf("%d next keys after the plan", count[StateNext])
	}
	for _, u := range c.Update {
		o := before[slices.IndexFunc(before, func(r Record) bool { return r.KID == u.KID })]
		if stateRank[u.State] < stateRank[o.State] || (o.State == StateRevoked && u.State != StateRevoked) {
			t.Errorf("key %s moved backwards: %s → %s", u.KID, o.State, u.State)
		}
	}
	for _, kid := range c.Delete {
		o := before[slices.IndexFunc(before, func(r Record) bool { return r.KID == kid })]
		if o.State != StateRetired && o.State != StateRevoked {
			t.Errorf("deleted key %s was %s", kid, o.State)
		}
	}
	for _, r := range c.Insert {
		switch {
		case r.State == StateCurrent && !r.SignableAt.Equal(r.CreatedAt):
			t.Errorf("fresh current key %s is stamped %v, want its creation %v", r.KID, r.SignableAt, r.CreatedAt)
		case r.State == StateNext && !r.SignableAt.After(r.CreatedAt):
			t.Errorf("fresh next key %s is stamped %v, not after its creation %v", r.KID, r.SignableAt, r.CreatedAt)
		}
	}
	return after
}

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

func TestNotPropagatedErrorMessage(t *testing.T) {
	err := &NotPropagatedError{Alg: RS256, KID: "abc", Published: 2 * time.Minute, Delay: 10 * time.Minute, SignableAt: t0}
	want := "keys: next RS256 key abc has been published for 2m0s, less than the propagation delay 10m0s it was published with; wait 8m0s, or use --force (tokens it signs may fail verification at resource servers whose JWKS cache predates it)"
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
	if err.Wait() != 8*time.Minute {
		t.Errorf("Wait = %v", err.Wait())
	}
	noNext := (&NotPropagatedError{Alg: EdDSA, Delay: time.Minute}).Error()
	if !strings.Contains(noNext, "no next key") || !strings.Contains(noNext, "--force") {
		t.Errorf("message without next key: %s", noNext)
	}
}

// Two admins rotate at once: each read the same current key before locking,
// and the lane lock runs their plans one after the other.
func TestPlanConcurrentRotationsRotateOnce(t *testing.T) {
	lane := []Record{pCur("cur", t0.Add(-time.Hour)), pNext("next", t0.Add(-time.Minute))}
	op := Op{Kind: Rotate, Force: true, ExpectCurrent: "cur"}
	first, err := Plan(lane, t0, testPolicy, op, []Record{pNext("a", t0)})
	if err != nil {
		t.Fatal(err)
	}
	lane = checkInvariants(t, lane, first.Change)
	_, err = Plan(lane, t0.Add(time.Millisecond), testPolicy, op, []Record{pNext("b", t0)})
	if !errors.Is(err, ErrConcurrentRotation) {
		t.Fatalf("second rotation: %v, want ErrConcurrentRotation", err)
	}
	if !strings.Contains(err.Error(), "current key is now next, was cur") {
		t.Errorf("message: %v", err)
	}
}

func TestPlanRefusesInconsistentInput(t *testing.T) {
	rs := pNext("rs", t0)
	rs.Alg = RS256
	bad := pNext("bad", t0)
	bad.Alg = "HS256"
	tests := []struct {
		name  string
		lane  []Record
		fresh []Record
		want  string
	}{
		{"lane mixes algorithms", []Record{pCur("a", t0), rs}, nil, "lane mixes"},
		{"unknown algorithm", []Record{bad}, nil, "unsupported algorithm"},
		{"fresh key of another lane", []Record{pCur("a", t0)}, []Record{rs}, "fresh RS256 key rs offered to the EdDSA lane"},
		{"fresh key already in lane", []Record{pCur("a", t0)}, []Record{pNext("a", t0)}, "already in the lane"},
		{"duplicate kid", []Record{pCur("a", t0), pNext("a", t0)}, nil, "appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Plan(tt.lane, t0, testPolicy, Op{Kind: Maintain}, tt.fresh)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Plan error = %v, want %q", err, tt.want)
			}
		})
	}
}
