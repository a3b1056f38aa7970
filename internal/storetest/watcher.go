package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/keys"
)

// watchDeadline bounds every wait for a notification.
const watchDeadline = 10 * time.Second

// watch runs WatchKeys until the test ends; calls arrive on the returned
// channel (coalesced, like the contract allows) and its result on done.
func watch(t *testing.T, w keys.Watcher) (calls <-chan struct{}, cancel func(), done <-chan error) {
	ctx, cancel := context.WithCancel(context.Background())
	c := make(chan struct{}, 1)
	d := make(chan error, 1)
	go func() {
		d <- w.WatchKeys(ctx, func() {
			select {
			case c <- struct{}{}:
			default:
			}
		})
		close(d) // later receivers (the cleanup) see it has returned
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-d:
		case <-time.After(watchDeadline):
			t.Error("WatchKeys did not return after cancellation")
		}
	})
	return c, cancel, d
}

// subscribed commits changes until the watcher reports one, so that later
// changes are certain to find it listening. Stores may call changed once on
// subscribing; that also proves it listens.
func subscribed(t *testing.T, s Stores, calls <-chan struct{}, done <-chan error) {
	t.Helper()
	deadline := time.After(watchDeadline)
	for i := 0; ; i++ {
		mustChange(t, s, keys.RS256, keys.Change{Insert: []keys.Record{record(fmt.Sprint("warmup", i), keys.RS256, keys.StateRetired)}})
		select {
		case <-calls:
			return
		case err := <-done:
			t.Fatalf("WatchKeys returned early: %v", err)
		case <-deadline:
			t.Fatal("WatchKeys never reported a committed change")
		case <-time.After(100 * time.Millisecond): // commit another change and look again
		}
	}
}

// TestWatcher checks keys.Watcher. A store without one fails it: a replica
// would never hear of the key changes another process commits.
func TestWatcher(t *testing.T, open Open) {
	if open(t).Watcher == nil {
		t.Fatal("store has no Watcher (Stores.Watcher is nil): replicas would not hear of key changes other processes commit")
	}
	t.Run("ToldAfterCommit", func(t *testing.T) {
		s := open(t)
		calls, _, done := watch(t, s.Watcher)
		writer := s
		if s.Reopen != nil {
			writer = s.Reopen(t) // another process
		}
		subscribed(t, writer, calls, done)
		for _, alg := range []keys.Alg{keys.RS256, keys.EdDSA} {
			// Drain a call that may still be in flight from the warm-up.
			select {
			case <-calls:
			default:
			}
			mustChange(t, writer, alg, keys.Change{Insert: []keys.Record{record("after-"+string(alg), alg, keys.StateNext)}})
			select {
			case <-calls:
			case err := <-done:
				t.Fatalf("WatchKeys returned: %v", err)
			case <-time.After(watchDeadline):
				t.Fatalf("no call within %v of a committed %s change", watchDeadline, alg)
			}
		}
	})

	t.Run("ReturnsOnCancel", func(t *testing.T) {
		s := open(t)
		calls, cancel, done := watch(t, s.Watcher)
		subscribed(t, s, calls, done)
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("WatchKeys = %v, want context.Canceled", err)
			}
		case <-time.After(watchDeadline):
			t.Fatal("WatchKeys did not return after cancellation")
		}
	})
}
