package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/keys"
)

// record returns a key of the lane in the state. Its JWK has odd spacing and
// member order, which a store must keep byte for byte. Revoked keys have no
// SignableAt stamp, as keys published before stamps existed.
func record(kid string, alg keys.Alg, state keys.State) keys.Record {
	r := keys.Record{
		KID: kid, Alg: alg, State: state,
		PublicJWK: fmt.Appendf(nil, `{"kty":"OKP",  "crv":"Ed25519", "x":"%s","alg":"%s" }`, kid, alg),
		Sealed:    fmt.Appendf(nil, "sealed:%s", kid),
		KEKID:     "kek-1",
		CreatedAt: base,
	}
	if state != keys.StateRevoked {
		r.SignableAt = at(30 * time.Minute)
	}
	if state != keys.StateNext {
		r.ActivatedAt = at(time.Hour)
	}
	if state == keys.StateRetired || state == keys.StateRevoked {
		r.RetiredAt = at(2 * time.Hour)
	}
	if state == keys.StateRevoked {
		r.RevokedAt = at(3 * time.Hour)
	}
	return r
}

func sortedByKID(rs []keys.Record) []keys.Record {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b keys.Record) int { return cmp.Compare(a.KID, b.KID) })
	return rs
}

// change applies c to the lane and fails the test on error.
func mustChange(t *testing.T, s Stores, alg keys.Alg, c keys.Change) {
	t.Helper()
	err := s.Keys.UpdateLane(t.Context(), alg, func([]keys.Record) (keys.Change, error) { return c, nil })
	if err != nil {
		t.Fatalf("UpdateLane(%s): %v", alg, err)
	}
}

func ring(t *testing.T, s Stores) []keys.Record {
	t.Helper()
	rs, err := s.Keys.Keys(t.Context())
	if err != nil {
		t.Fatalf("Keys: %v", err)
	}
	return sortedByKID(rs)
}

// TestKeyStore checks keys.Store.
func TestKeyStore(t *testing.T, open Open) {
	t.Run("EmptyRing", func(t *testing.T) {
		s := open(t)
		rs, err := s.Keys.Keys(t.Context())
		if err != nil || len(rs) != 0 {
			t.Errorf("Keys = %v, %v; want none, nil", rs, err)
		}
		err = s.Keys.UpdateLane(t.Context(), keys.RS256, func(lane []keys.Record) (keys.Change, error) {
			if len(lane) != 0 {
				t.Errorf("empty lane = %v", lane)
			}
			return keys.Change{}, nil
		})
		if err != nil {
			t.Errorf("UpdateLane with no change: %v", err)
		}
	})

	t.Run("InsertAndRead", func(t *testing.T) {
		s := open(t)
		want := []keys.Record{
			record("a-current", keys.RS256, keys.StateCurrent),
			record("b-next", keys.RS256, keys.StateNext),
			record("c-retired", keys.RS256, keys.StateRetired),
			record("d-revoked", keys.RS256, keys.StateRevoked),
		}
		mustChange(t, s, keys.RS256, keys.Change{Insert: want})
		got := ring(t, s)
		diff(t, "ring", want, got)
		for _, r := range got {
			for _, ts := range []time.Time{r.CreatedAt, r.ActivatedAt, r.RetiredAt, r.RevokedAt, r.SignableAt} {
				if !ts.IsZero() && ts.Location() != time.UTC {
					t.Errorf("%s: time in %v, want UTC", r.KID, ts.Location())
				}
			}
		}
	})

	t.Run("LanesAreSeparate", func(t *testing.T) {
		s := open(t)
		rs := record("rs", keys.RS256, keys.StateCurrent)
		ed := record("ed", keys.EdDSA, keys.StateCurrent) // one current per lane, not per ring
		mustChange(t, s, keys.RS256, keys.Change{Insert: []keys.Record{rs}})
		mustChange(t, s, keys.EdDSA, keys.Change{Insert: []keys.Record{ed}})
		err := s.Keys.UpdateLane(t.Context(), keys.EdDSA, func(lane []keys.Record) (keys.Change, error) {
			diff(t, "EdDSA lane", []keys.Record{ed}, lane)
			return keys.Change{}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		diff(t, "ring", []keys.Record{ed, rs}, ring(t, s))
	})

	t.Run("FnErrorAppliesNothing", func(t *testing.T) {
		s := open(t)
		errPolicy := errors.New("policy says no")
		err := s.Keys.UpdateLane(t.Context(), keys.RS256, func([]keys.Record) (keys.Change, error) {
			return keys.Change{Insert: []keys.Record{record("k", keys.RS256, keys.StateNext)}}, errPolicy
		})
		if err != errPolicy {
			t.Errorf("UpdateLane returned %v, want fn's error unchanged", err)
		}
		diff(t, "ring", []keys.Record(nil), ring(t, s))
	})

	t.Run("ChangeIsAtomic", func(t *testing.T) {
		tests := []struct {
			name    string
			change  keys.Change
			wantErr error // nil: any error
		}{
			{"duplicate kid", keys.Change{
				Update: []keys.Record{record("cur", keys.RS256, keys.StateRetired)},
				Insert: []keys.Record{record("fresh", keys.RS256, keys.StateNext), record("nxt", keys.RS256, keys.StateNext)},
			}, idp.ErrConflict},
			{"second current", keys.Change{
				Delete: []string{"old"},
				Insert: []keys.Record{record("fresh", keys.RS256, keys.StateCurrent)},
			}, nil},
			{"promotion without demotion", keys.Change{
				Update: []keys.Record{record("nxt", keys.RS256, keys.StateCurrent)},
				Insert: []keys.Record{record("fresh", keys.RS256, keys.StateNext)},
			}, nil},
			{"update of a missing key", keys.Change{
				Update: []keys.Record{record("cur", keys.RS256, keys.StateRetired), record("ghost", keys.RS256, keys.StateRetired)},
				Insert: []keys.Record{record("fresh", keys.RS256, keys.StateNext)},
			}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := open(t)
				want := []keys.Record{
					record("cur", keys.RS256, keys.StateCurrent),
					record("nxt", keys.RS256, keys.StateNext),
					record("old", keys.RS256, keys.StateRetired),
				}
				mustChange(t, s, keys.RS256, keys.Change{Insert: want})
				err := s.Keys.UpdateLane(t.Context(), keys.RS256, func([]keys.Record) (keys.Change, error) { return tt.change, nil })
				if err == nil {
					t.Fatal("UpdateLane applied an invalid change")
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
				diff(t, "ring after refused change", sortedByKID(want), ring(t, s))
			})
		}
	})

	t.Run("RotateInOneChange", func(t *testing.T) {
		// Promotion listed before demotion: the one-current rule holds for
		// the committed lane, not between the change's steps.
		s := open(t)
		cur := record("cur", keys.RS256, keys.StateCurrent)
		nxt := record("nxt", keys.RS256, keys.StateNext)
		mustChange(t, s, keys.RS256, keys.Change{Insert: []keys.Record{cur, nxt}})
		nxt.State, nxt.ActivatedAt = keys.StateCurrent, at(24*time.Hour)
		cur.State, cur.RetiredAt = keys.StateRetired, at(24*time.Hour)
		fresh := record("fresh", keys.RS256, keys.StateNext)
		mustChange(t, s, keys.RS256, keys.Change{Update: []keys.Record{nxt, cur}, Insert: []keys.Record{fresh}})
		diff(t, "ring", []keys.Record{cur, fresh, nxt}, ring(t, s))
	})

	t.Run("UpdateChangesOnlyStateAndTimes", func(t *testing.T) {
		s := open(t)
		orig := record("k", keys.RS256, keys.StateRetired)
		mustChange(t, s, keys.RS256, keys.Change{Insert: []keys.Record{orig}})
		u := orig
		u.State = keys.StateRevoked
		u.CreatedAt, u.ActivatedAt, u.RetiredAt, u.RevokedAt = at(-time.Hour), time.Time{}, at(5*time.Hour), at(6*time.Hour)
		u.PublicJWK, u.Sealed, u.KEKID, u.SignableAt = []byte(`{"forged":true}`), []byte("other"), "kek-9", at(7*time.Hour)
		mustChange(t, s, keys.RS256, keys.Change{Update: []keys.Record{u}})
		want := orig
		want.State = keys.StateRevoked
		want.CreatedAt, want.ActivatedAt, want.RetiredAt, want.RevokedAt, want.SignableAt = u.CreatedAt, u.ActivatedAt, u.RetiredAt, u.RevokedAt, u.SignableAt
		diff(t, "ring", []keys.Record{want}, ring(t, s))
	})

	t.Run("UpdateStampsAnUnstampedKey", func(t *testing.T) {
		s := open(t)
		orig := record("k", keys.RS256, keys.StateNext)
		orig.SignableAt = time.Time{}
		mustChange(t, s, keys.RS256, keys.Change{Insert: []keys.Record{orig}})
		diff(t, "ring before", []keys.Record{orig}, ring(t, s))
		u := orig
		u.SignableAt = at(time.Hour)
		mustChange(t, s, keys.RS256, keys.Change{Update: []keys.Record{u}})
		diff(t, "ring after", []keys.Record{u}, ring(t, s))
	})

	t.Run("Delete", func(t *testing.T) {
		s := open(t)
		a, b, c := record("a", keys.RS256, keys.StateRetired), record("b", keys.RS256, keys.StateRevoked), record("c", keys.RS256, keys.StateCurrent)
		mustChange(t, s, keys.RS256, keys.Change{Insert: []keys.Record{a, b, c}})
		mustChange(t, s, keys.RS256, keys.Change{Delete: []string{"a", "b"}})
		diff(t, "ring", []keys.Record{c}, ring(t, s))
	})

	t.Run("SerialisedUnderConcurrency", func(t *testing.T) {
		// Each fn names its key after the lane's size: only if every call
		// sees its predecessor's commit are all names distinct.
		s := open(t)
		const n = 10
		parallel(n, handles(t, s), func(i int, h Stores) {
			err := h.Keys.UpdateLane(t.Context(), keys.EdDSA, func(lane []keys.Record) (keys.Change, error) {
				return keys.Change{Insert: []keys.Record{record(fmt.Sprint("k", len(lane)), keys.EdDSA, keys.StateRetired)}}, nil
			})
			if err != nil {
				t.Errorf("goroutine %d: UpdateLane: %v", i, err)
			}
		})
		var got []string
		for _, r := range ring(t, s) {
			got = append(got, r.KID)
		}
		var want []string
		for i := range n {
			want = append(want, fmt.Sprint("k", i))
		}
		slices.Sort(want)
		diff(t, "kids", want, got)
	})

	t.Run("RewrapKeys", func(t *testing.T) {
		s := open(t)
		a, b, c := record("a", keys.RS256, keys.StateCurrent), record("b", keys.RS256, keys.StateNext), record("c", keys.EdDSA, keys.StateCurrent)
		mustChange(t, s, keys.RS256, keys.Change{Insert: []keys.Record{a, b}})
		mustChange(t, s, keys.EdDSA, keys.Change{Insert: []keys.Record{c}})
		rewrap := func(r keys.Record) keys.Record {
			r.Sealed, r.KEKID = []byte("resealed:"+r.KID), "kek-2"
			// Everything else must be ignored.
			r.State, r.PublicJWK, r.CreatedAt = keys.StateRevoked, []byte("{}"), at(time.Hour)
			return r
		}
		ghost := record("ghost", keys.RS256, keys.StateNext)
		if err := s.Keys.RewrapKeys(t.Context(), []keys.Record{rewrap(a), rewrap(c), rewrap(ghost)}); err != nil {
			t.Fatalf("RewrapKeys: %v", err)
		}
		a.Sealed, a.KEKID = []byte("resealed:a"), "kek-2"
		c.Sealed, c.KEKID = []byte("resealed:c"), "kek-2"
		diff(t, "ring", []keys.Record{a, b, c}, ring(t, s))
		if err := s.Keys.RewrapKeys(t.Context(), nil); err != nil {
			t.Errorf("RewrapKeys(nil): %v", err)
		}
	})
}
