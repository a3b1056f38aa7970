package keys

import (
	"errors"
	"fmt"
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
