package metrics

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// PoolStater is a store with a pgx pool; the Postgres store implements it.
type PoolStater interface {
	PoolStat() *pgxpool.Stat
}

// NewPoolCollector exposes pgxpool's statistics: connections by state,
// acquisitions, the time spent acquiring, and acquisitions that had to
// wait for a connection.
func NewPoolCollector(p PoolStater) prometheus.Collector {
	return &poolCollector{
		p: p,
		conns: prometheus.NewDesc("rotor_db_pool_connections", "Database pool connections by state (in_use, idle, constructing) and the pool's max.",
			[]string{"state"}, nil),
		acquires: prometheus.NewDesc("rotor_db_pool_acquires_total", "Connections acquired from the pool.", nil, nil),
		acquireSeconds: prometheus.NewDesc("rotor_db_pool_acquire_seconds_total",
			"Total time spent acquiring connections; its rate over rotor_db_pool_acquires_total's is the mean acquire time.", nil, nil),
		empty: prometheus.NewDesc("rotor_db_pool_empty_acquires_total",
			"Acquisitions that found no idle connection and had to wait or connect.", nil, nil),
		canceled: prometheus.NewDesc("rotor_db_pool_canceled_acquires_total",
			"Acquisitions abandoned because the request's context ended.", nil, nil),
	}
}

type poolCollector struct {
	p                                                PoolStater
	conns, acquires, acquireSeconds, empty, canceled *prometheus.Desc
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.conns, c.acquires, c.acquireSeconds, c.empty, c.canceled} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.p.PoolStat()
	for state, n := range map[string]int32{
		"in_use": s.AcquiredConns(), "idle": s.IdleConns(), "constructing": s.ConstructingConns(), "max": s.MaxConns(),
	} {
		ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(n), state)
	}
	ch <- prometheus.MustNewConstMetric(c.acquires, prometheus.CounterValue, float64(s.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.acquireSeconds, prometheus.CounterValue, s.AcquireDuration().Seconds())
	ch <- prometheus.MustNewConstMetric(c.empty, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.canceled, prometheus.CounterValue, float64(s.CanceledAcquireCount()))
}

// BusyRetrier is a store that retries calls on a locked database; the
// embedded store implements it.
type BusyRetrier interface {
	BusyRetries() uint64
}

// NewBusyRetryCollector exposes the embedded store's busy retries.
func NewBusyRetryCollector(b BusyRetrier) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "rotor_store_busy_retries_total",
		Help: "Embedded-store calls tried again because the database stayed locked past the busy timeout.",
	}, func() float64 { return float64(b.BusyRetries()) })
}
