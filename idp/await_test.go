package idp_test

import (
	"testing"
	"time"
)

// await polls cond until it holds, failing the test after a generous bound:
// it waits for a condition, never stands in for one.
func await(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond) // polling interval
	}
}
