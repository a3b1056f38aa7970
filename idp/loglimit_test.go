package idp

import (
	"sync"
	"testing"
	"time"
)

func TestLogLimiter(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	l := logLimiter{every: 10 * time.Second}
	steps := []struct {
		at             time.Duration
		ok             bool
		wantSuppressed int
	}{
		{0, true, 0},
		{time.Second, false, 0},
		{9 * time.Second, false, 0},
		{10 * time.Second, true, 2},
		{11 * time.Second, false, 0},
		{time.Minute, true, 1},
		{2 * time.Minute, true, 0},
	}
	for _, st := range steps {
		ok, n := l.allow(t0.Add(st.at))
		if ok != st.ok || n != st.wantSuppressed {
			t.Errorf("allow(+%v) = %v, %d; want %v, %d", st.at, ok, n, st.ok, st.wantSuppressed)
		}
	}

	// A concurrent burst within one interval: one line, every other one
	// counted.
	l = logLimiter{every: time.Hour}
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if ok, _ := l.allow(t0); ok {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if allowed != 1 || l.suppressed != 99 {
		t.Errorf("burst of 100: %d allowed, %d suppressed; want 1, 99", allowed, l.suppressed)
	}
}
