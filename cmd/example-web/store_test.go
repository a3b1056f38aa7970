package main

import (
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSessionStores(t *testing.T) {
	dir := t.TempDir()
	ds, err := newDirStore(dir, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for name, st := range map[string]sessionStore{"memory": newMemStore(time.Hour), "directory": ds} {
		t.Run(name, func(t *testing.T) {
			id := newSessionID()
			if _, err := st.Get(id); err != errNoSession {
				t.Fatalf("Get of an unknown id: %v", err)
			}
			want := &session{AccessToken: "at", RefreshToken: "rt", Expiry: time.Now().Add(time.Minute).Round(0), Username: "alice", Created: time.Now().Round(0)}
			if err := st.Put(id, want); err != nil {
				t.Fatal(err)
			}
			got, err := st.Get(id)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("Get after Put (-want +got):\n%s", d)
			}
			if err := st.Delete(id); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Get(id); err != errNoSession {
				t.Errorf("Get after Delete: %v", err)
			}
			if err := st.Delete(id); err != nil {
				t.Errorf("Delete twice: %v", err)
			}
		})
	}
	t.Run("directory holds hashes of ids, private files", func(t *testing.T) {
		id := newSessionID()
		if err := ds.Put(id, &session{Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.Contains(e.Name(), id) {
				t.Errorf("file %s names the session id", e.Name())
			}
			if info, _ := e.Info(); info.Mode().Perm()&0o077 != 0 {
				t.Errorf("file %s has mode %v", e.Name(), info.Mode())
			}
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	ds, _ := newDirStore(t.TempDir(), time.Minute)
	for name, st := range map[string]sessionStore{"memory": newMemStore(time.Minute), "directory": ds} {
		t.Run(name, func(t *testing.T) {
			id := newSessionID()
			_ = st.Put(id, &session{Created: time.Now().Add(-2 * time.Minute)})
			if _, err := st.Get(id); err != errNoSession {
				t.Errorf("Get of a session past its lifetime: %v", err)
			}
		})
	}
}

func TestSessionIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newSessionID()
		if len(id) != 43 || seen[id] {
			t.Fatalf("id %q (seen before: %v)", id, seen[id])
		}
		seen[id] = true
	}
}

// TestSessionLock: the lock of one session admits one holder at a time,
// and different sessions do not wait for each other.
func TestSessionLock(t *testing.T) {
	a := &app{}
	id := newSessionID()
	var (
		wg           sync.WaitGroup
		mu           sync.Mutex
		inside, most int
	)
	for range 32 {
		wg.Go(func() {
			unlock := a.lock(id)
			mu.Lock()
			inside++
			most = max(most, inside)
			mu.Unlock()
			time.Sleep(time.Millisecond) // hold it, so that a broken lock shows
			mu.Lock()
			inside--
			mu.Unlock()
			unlock()
		})
	}
	wg.Wait()
	if most != 1 {
		t.Errorf("%d holders of one session's lock at once", most)
	}
	unlock := a.lock(id)
	defer unlock()
	done := make(chan struct{})
	go func() { a.lock(newSessionID())(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("another session's lock waited for this one")
	}
}
