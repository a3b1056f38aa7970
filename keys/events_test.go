package keys_test

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/keys"
)

// eventLog collects a Manager's events.
type eventLog struct {
	mu     sync.Mutex
	events []keys.Event
}

func (l *eventLog) add(e keys.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.At, e.Err = time.Time{}, nil
	l.events = append(l.events, e)
}

func (l *eventLog) take() []keys.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.events
	l.events = nil
	return out
}

// TestManagerEvents checks what Config.Events hears: the bootstrap
// (published, and a fresh key activated), an admin rotation, and an
// emergency revocation of the current key (the next promoted); and that
// LastLoaded and Stats follow the ring.
func TestManagerEvents(t *testing.T) {
	clk := newClock()
	var log eventLog
	m := newReplica(t, openStore(t, pgtest.NewDatabase(t)), clk, func(c *keys.Config) { c.Events = log.add })
	if !m.LastLoaded().IsZero() {
		t.Error("LastLoaded set before the first load")
	}
	start(t, m)
	if age := time.Since(m.LastLoaded()); age < 0 || age > time.Minute {
		t.Errorf("LastLoaded %v after Start", m.LastLoaded())
	}
	boot := log.take()
	cur, next := signerKID(m.Snapshot(), keys.EdDSA), ""
	for _, e := range boot {
		if e.Kind == keys.EventPublished && e.KID != cur {
			next = e.KID
		}
	}
	want := []keys.Event{
		{Kind: keys.EventPublished, Alg: keys.EdDSA, KID: cur, Trigger: keys.TriggerSchedule},
		{Kind: keys.EventActivated, Alg: keys.EdDSA, KID: cur, Trigger: keys.TriggerSchedule, Fresh: true},
		{Kind: keys.EventPublished, Alg: keys.EdDSA, KID: next, Trigger: keys.TriggerSchedule},
	}
	// The two keys are inserted in one change, in no promised order.
	byKey := cmpopts.SortSlices(func(a, b keys.Event) bool { return a.KID+string(a.Kind) < b.KID+string(b.Kind) })
	if diff := cmp.Diff(want, boot, byKey); diff != "" {
		t.Errorf("bootstrap events (-want +got):\n%s", diff)
	}

	clk.Advance(testP)
	rot, err := m.Rotate(ctxFor(t), keys.EdDSA, false)
	if err != nil {
		t.Fatal(err)
	}
	got := log.take()
	for _, w := range []keys.Event{
		{Kind: keys.EventPublished, Alg: keys.EdDSA, KID: rot.Next, Trigger: keys.TriggerAdmin},
		{Kind: keys.EventActivated, Alg: keys.EdDSA, KID: rot.Current, Trigger: keys.TriggerAdmin},
		{Kind: keys.EventRetired, Alg: keys.EdDSA, KID: rot.Retired, Trigger: keys.TriggerAdmin},
	} {
		if !containsEvent(got, w) {
			t.Errorf("rotation: no %+v in %+v", w, got)
		}
	}

	if _, err := m.Revoke(ctxFor(t), rot.Current); err != nil {
		t.Fatal(err)
	}
	got = log.take()
	for _, w := range []keys.Event{
		{Kind: keys.EventRevoked, Alg: keys.EdDSA, KID: rot.Current, Trigger: keys.TriggerEmergency},
		{Kind: keys.EventActivated, Alg: keys.EdDSA, KID: rot.Next, Trigger: keys.TriggerEmergency},
	} {
		if !containsEvent(got, w) {
			t.Errorf("revocation: no %+v in %+v", w, got)
		}
	}

	stats := map[keys.State]int{}
	for _, st := range m.Snapshot().Stats() {
		stats[st.State]++
		if st.Alg != keys.EdDSA || (st.State == keys.StateCurrent && st.ActivatedAt.IsZero()) {
			t.Errorf("stat %+v", st)
		}
	}
	// Revoked keys are unpublished; the retired one stays.
	if diff := cmp.Diff(map[keys.State]int{keys.StateCurrent: 1, keys.StateNext: 1, keys.StateRetired: 1}, stats); diff != "" {
		t.Errorf("Stats by state (-want +got):\n%s", diff)
	}
}

func containsEvent(events []keys.Event, want keys.Event) bool {
	for _, e := range events {
		if e == want {
			return true
		}
	}
	return false
}
