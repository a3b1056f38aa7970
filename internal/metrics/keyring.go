package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rotor-idp/rotor/keys"
)

// RingSource is what the key ring collector reads at scrape time;
// *keys.Manager implements it.
type RingSource interface {
	Snapshot() *keys.Snapshot
	LastLoaded() time.Time
	Policy() keys.Policy
	Algs() []keys.Alg
}

// KeyRing collects the key ring's state: keys by algorithm and state, the
// age of each lane's current key, the time to its next scheduled rotation,
// the ring's staleness on this replica, and counters of the changes this
// replica made (Observe, hooked into keys.Config.Events). Its labels are
// algorithms, states and triggers, never kids.
type KeyRing struct {
	src RingSource
	now func() time.Time

	rotations    *prometheus.CounterVec
	revocations  *prometheus.CounterVec
	maintFailure prometheus.Counter

	keysDesc, ageDesc, nextDesc, staleDesc, loadedDesc *prometheus.Desc
}

// NewKeyRing returns the collector; call SetSource before it is scraped.
func NewKeyRing() *KeyRing {
	return &KeyRing{
		now: time.Now,
		rotations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rotor_key_rotations_total",
			Help: "Keys this replica made current, by lane and trigger (schedule, admin, emergency).",
		}, []string{"alg", "trigger"}),
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rotor_key_revocations_total",
			Help: "Keys this replica revoked, by lane and trigger.",
		}, []string{"alg", "trigger"}),
		maintFailure: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rotor_key_maintenance_failures_total",
			Help: "Scheduled key maintenance runs that failed on this replica.",
		}),
		keysDesc: prometheus.NewDesc("rotor_keys", "Published keys in this replica's ring, by lane and state.",
			[]string{"alg", "state"}, nil),
		ageDesc: prometheus.NewDesc("rotor_key_current_age_seconds", "How long each lane's current key has been signing.",
			[]string{"alg"}, nil),
		nextDesc: prometheus.NewDesc("rotor_key_next_rotation_seconds",
			"Seconds until each lane's next scheduled rotation (negative: overdue). Absent when scheduled rotation is off.",
			[]string{"alg"}, nil),
		staleDesc: prometheus.NewDesc("rotor_key_ring_staleness_seconds",
			"Seconds since this replica last read the key ring from the store.", nil, nil),
		loadedDesc: prometheus.NewDesc("rotor_key_ring_loaded", "1 once this replica has loaded the key ring.", nil, nil),
	}
}

// SetSource sets the ring the collector reads.
func (k *KeyRing) SetSource(src RingSource) { k.src = src }

// Observe counts a key ring event; it is keys.Config.Events (or part of it).
func (k *KeyRing) Observe(e keys.Event) {
	switch e.Kind {
	case keys.EventActivated:
		if !e.Fresh { // a lane's first key is no rotation
			k.rotations.WithLabelValues(string(e.Alg), e.Trigger).Inc()
		}
	case keys.EventRevoked:
		k.revocations.WithLabelValues(string(e.Alg), e.Trigger).Inc()
	case keys.EventMaintenanceFailed:
		k.maintFailure.Inc()
	}
}

// Describe is prometheus.Collector's.
func (k *KeyRing) Describe(ch chan<- *prometheus.Desc) {
	k.rotations.Describe(ch)
	k.revocations.Describe(ch)
	k.maintFailure.Describe(ch)
	for _, d := range []*prometheus.Desc{k.keysDesc, k.ageDesc, k.nextDesc, k.staleDesc, k.loadedDesc} {
		ch <- d
	}
}

// Collect is prometheus.Collector's: it reads the current snapshot.
func (k *KeyRing) Collect(ch chan<- prometheus.Metric) {
	k.rotations.Collect(ch)
	k.revocations.Collect(ch)
	k.maintFailure.Collect(ch)
	if k.src == nil {
		return
	}
	now := k.now()
	snap := k.src.Snapshot()
	loaded := 0.0
	if snap.Loaded() {
		loaded = 1
	}
	ch <- prometheus.MustNewConstMetric(k.loadedDesc, prometheus.GaugeValue, loaded)
	if t := k.src.LastLoaded(); !t.IsZero() {
		ch <- prometheus.MustNewConstMetric(k.staleDesc, prometheus.GaugeValue, now.Sub(t).Seconds())
	}
	type laneState struct {
		alg   keys.Alg
		state keys.State
	}
	counts := map[laneState]int{}
	for _, a := range k.src.Algs() {
		for _, s := range []keys.State{keys.StateNext, keys.StateCurrent, keys.StateRetired} {
			counts[laneState{a, s}] = 0 // report zeroes, so a missing next key shows
		}
	}
	current := map[keys.Alg]time.Time{}
	for _, st := range snap.Stats() {
		counts[laneState{st.Alg, st.State}]++
		if st.State == keys.StateCurrent && st.ActivatedAt.After(current[st.Alg]) {
			current[st.Alg] = st.ActivatedAt
		}
	}
	for ls, n := range counts {
		ch <- prometheus.MustNewConstMetric(k.keysDesc, prometheus.GaugeValue, float64(n), string(ls.alg), string(ls.state))
	}
	period := k.src.Policy().RotationPeriod
	for alg, at := range current {
		ch <- prometheus.MustNewConstMetric(k.ageDesc, prometheus.GaugeValue, now.Sub(at).Seconds(), string(alg))
		if period > 0 {
			ch <- prometheus.MustNewConstMetric(k.nextDesc, prometheus.GaugeValue, at.Add(period).Sub(now).Seconds(), string(alg))
		}
	}
}
