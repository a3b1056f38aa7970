package idp

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// unavailableLogEvery is the least time between two log lines about 503
// answers. A client can cause 503s at will (saturating the hashing slots
// with password guesses), so logging each would let it flood the logs.
const unavailableLogEvery = 10 * time.Second

// logLimiter lets one log line through per interval and counts the lines
// it held back, so the next line can say how many there were.
type logLimiter struct {
	every time.Duration

	mu         sync.Mutex
	next       time.Time
	suppressed int
}

// allow reports whether a line may be logged at now and, if so, how many
// were held back since the last one.
func (l *logLimiter) allow(now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.next) {
		l.suppressed++
		return false, 0
	}
	l.next, suppressed, l.suppressed = now.Add(l.every), l.suppressed, 0
	return true, suppressed
}

// logFailure logs a request that failed with status: a 500 always (it is a
// bug), a 503 (an expected condition: database down, hashing saturated) at
// most once per unavailableLogEvery, with the count of those not logged.
func (s *server) logFailure(ctx context.Context, r *http.Request, status int, cause string) {
	attrs := []slog.Attr{slog.String("path", r.URL.Path), slog.Int("status", status), slog.String("error", cause)}
	level := slog.LevelError
	if status == http.StatusServiceUnavailable {
		ok, suppressed := s.unavailableLog.allow(time.Now())
		if !ok {
			return
		}
		level = slog.LevelWarn
		if suppressed > 0 {
			attrs = append(attrs, slog.Int("suppressed", suppressed))
		}
	}
	s.log.LogAttrs(ctx, level, "request failed", attrs...)
}
