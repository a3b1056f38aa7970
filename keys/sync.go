package keys

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// Run keeps the ring current until ctx is done: it reloads when the store
// says keys changed (if it is a Watcher, resubscribing with backoff when the
// subscription breaks), every PollInterval, and soon after a failed reload,
// and it runs Maintain every MaintainInterval. Failures are logged and the
// last good snapshot keeps serving. Run returns after its goroutines have
// stopped.
func (m *Manager) Run(ctx context.Context) {
	kick := make(chan struct{}, 1)
	notify := func() {
		select {
		case kick <- struct{}{}:
		default: // a reload is already pending; it will see this change too
		}
	}
	var wg sync.WaitGroup
	if w, ok := m.store.(Watcher); ok {
		wg.Go(func() { m.watch(ctx, w, notify) })
	}
	defer wg.Wait()

	poll := time.NewTicker(m.cfg.PollInterval)
	defer poll.Stop()
	maint := time.NewTimer(jitter(m.cfg.MaintainInterval))
	defer maint.Stop()
	// After a failed reload, retry sooner than the next poll (1s doubling,
	// up to PollInterval), so a replica that missed a change during a
	// database blip catches up as soon as the database is back.
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	const minRetry = time.Second
	retryIn := minRetry
	reload := func() {
		if m.reloadOrLog(ctx) {
			retryIn = minRetry
			return
		}
		retry.Reset(jitter(min(retryIn, m.cfg.PollInterval)))
		retryIn = min(2*retryIn, m.cfg.PollInterval)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
			reload()
		case <-poll.C:
			reload()
		case <-retry.C:
			reload()
		case <-maint.C:
			if err := m.Maintain(ctx); err != nil && ctx.Err() == nil {
				m.log.Error("keys: maintenance failed", "err", err)
				m.emit(Event{Kind: EventMaintenanceFailed, Trigger: TriggerSchedule, At: m.now(), Err: err})
			}
			maint.Reset(jitter(m.cfg.MaintainInterval))
		}
	}
}

// reloadOrLog reloads and reports success; a failure is logged.
func (m *Manager) reloadOrLog(ctx context.Context) bool {
	err := m.Reload(ctx)
	if err != nil && ctx.Err() == nil {
		m.log.Error("keys: reload failed; keeping the last good key ring", "err", err, "version", m.Snapshot().Version())
	}
	return err == nil
}

// watch subscribes to change notifications and resubscribes after a failure
// with exponential backoff (1s doubling to 1m, reset after a subscription
// that lasted a minute). Polling covers the gaps.
func (m *Manager) watch(ctx context.Context, w Watcher, notify func()) {
	const minBackoff, maxBackoff = time.Second, time.Minute
	backoff := minBackoff
	for {
		began := time.Now()
		err := w.WatchKeys(ctx, notify)
		if ctx.Err() != nil {
			return
		}
		if time.Since(began) > maxBackoff {
			backoff = minBackoff
		}
		m.log.Warn("keys: key change notifications lost; polling until resubscribed", "err", err, "retry_in", backoff)
		t := time.NewTimer(jitter(backoff))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
		notify() // whatever changed while unsubscribed
	}
}

func jitter(d time.Duration) time.Duration {
	return d - d/10 + rand.N(d/5+1)
}
