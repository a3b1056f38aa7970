package sqlite_test

import (
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/storetest"
	"github.com/rotor-idp/rotor/sql/sqlite"
)

// TestConformance runs the store conformance suites; Reopen opens a second
// Store on the same data directory, as another process would.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		dir := t.TempDir()
		st := stores(open(t, dir))
		st.Reopen = func(t *testing.T) storetest.Stores { return stores(open(t, dir)) }
		return st
	})
}

func stores(s *sqlite.Store) storetest.Stores {
	return storetest.Stores{Users: s, Clients: s, Refresh: s, Sessions: s, Codes: s, Consents: s, Keys: s, Replay: s, Watcher: s}
}

// open opens a Store on dir, closed when t ends. Its watch interval is short
// so that cross-process key changes are seen quickly.
func open(t *testing.T, dir string, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), dir, append([]sqlite.Option{sqlite.WithWatchInterval(20 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}
