package keys

import "time"

// The cases of TestPlan, by operation.

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
