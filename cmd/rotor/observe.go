package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/internal/audit"
	"github.com/rotor-idp/rotor/internal/metrics"
	"github.com/rotor-idp/rotor/keys"
)

// defaultMetricsListen is where serve exposes /metrics: loopback, never the
// public listener.
const defaultMetricsListen = "127.0.0.1:9464"

// metricsFlags are serve's metrics flags.
func (c *config) metricsFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.metricsListen, "metrics-listen", defaultMetricsListen, "address of the Prometheus /metrics listener, apart from the public one (empty turns it off)")
}

// auditFlags say where audit events go; serve and every admin command that
// changes something take them.
func (c *config) auditFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.auditLog, "audit-log", "-", `file that audit events are appended to as JSON lines, or "-" for stderr`)
}

// openAudit opens the audit log the flags name; close closes its file.
func openAudit(path string, stderr io.Writer) (l *audit.Logger, close func(), err error) {
	if path == "" || path == "-" {
		l := audit.New(stderr)
		return l, func() { _ = l.Close() }, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("--audit-log: %w", err)
	}
	l = audit.New(f)
	return l, func() { _ = l.Close(); _ = f.Close() }, nil
}

// auditOnce writes one admin command's audit event, as the CLI.
func (in *invocation) audit(ctx context.Context, name string, attrs ...slog.Attr) {
	l, closeLog, err := openAudit(in.cfg.auditLog, in.stderr)
	if err != nil {
		fmt.Fprintf(in.stderr, "warning: audit event %s not written: %v\n", name, err)
		return
	}
	defer closeLog()
	l.Emit(ctx, audit.Event{Name: name, Actor: audit.CLI, Attrs: attrs})
}

// keyEvents turns key ring events into audit events by actor (the CLI or
// the scheduler), and hands them to the metrics collector if there is one.
func keyEvents(l *audit.Logger, actor audit.Actor, ring *metrics.KeyRing) func(keys.Event) {
	names := map[keys.EventKind]string{
		keys.EventPublished: audit.KeyPublished, keys.EventActivated: audit.KeyActivated,
		keys.EventRetired: audit.KeyRetired, keys.EventRevoked: audit.KeyRevoked, keys.EventRewrapped: audit.KEKRewrapped,
	}
	return func(e keys.Event) {
		if ring != nil {
			ring.Observe(e)
		}
		name, ok := names[e.Kind]
		if !ok {
			return
		}
		attrs := []slog.Attr{slog.String("trigger", e.Trigger)}
		if e.KID != "" {
			attrs = append(attrs, slog.String("kid", e.KID), slog.String("alg", string(e.Alg)))
		}
		if e.Kind == keys.EventRewrapped {
			attrs = append(attrs, slog.Int("count", e.Count))
		}
		l.Emit(context.Background(), audit.Event{Name: name, Actor: actor, Attrs: attrs})
	}
}

// telemetry is serve's metrics registry and audit log.
type telemetry struct {
	reg     *prometheus.Registry // nil: metrics off
	ln      net.Listener
	idp     *idp.Metrics
	ring    *metrics.KeyRing
	audit   *audit.Logger
	closeFn func()
}

// newTelemetry opens the audit log and, unless --metrics-listen is empty,
// the metrics listener.
func newTelemetry(c *config, stderr io.Writer) (*telemetry, error) {
	l, closeLog, err := openAudit(c.auditLog, stderr)
	if err != nil {
		return nil, err
	}
	t := &telemetry{audit: l, closeFn: closeLog}
	if c.metricsListen == "" {
		return t, nil
	}
	if t.ln, err = net.Listen("tcp", c.metricsListen); err != nil {
		closeLog()
		return nil, fmt.Errorf("--metrics-listen %s: %w", c.metricsListen, err)
	}
	t.reg = metrics.NewRegistry()
	t.idp = idp.NewMetrics(t.reg)
	t.ring = metrics.NewKeyRing()
	t.reg.MustRegister(t.ring)
	return t, nil
}

// watchStore adds the store's own collectors: pool statistics for
// Postgres, busy retries for the embedded store.
func (t *telemetry) watchStore(st any) {
	if t.reg == nil {
		return
	}
	if p, ok := st.(metrics.PoolStater); ok {
		t.reg.MustRegister(metrics.NewPoolCollector(p))
	}
	if b, ok := st.(metrics.BusyRetrier); ok {
		t.reg.MustRegister(metrics.NewBusyRetryCollector(b))
	}
}

// serve serves /metrics until ctx ends.
func (t *telemetry) serve(ctx context.Context, log *slog.Logger) {
	if t.reg == nil {
		return
	}
	log.Info("metrics listening", "addr", t.ln.Addr().String())
	go func() {
		if err := metrics.Serve(ctx, t.ln, t.reg, log); err != nil {
			log.Error("metrics listener failed", "err", err)
		}
	}()
}

func (t *telemetry) Close() {
	if t.ln != nil {
		t.ln.Close()
	}
	t.closeFn()
}
