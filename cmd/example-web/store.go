package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// session is what the front end knows about one browser. The browser holds
// only the session's id, in a cookie; the tokens never leave the server.
type session struct {
	// A sign-in in progress: what the callback must see again.
	State    string `json:"state,omitempty"`
	Nonce    string `json:"nonce,omitempty"`
	Verifier string `json:"verifier,omitempty"` // PKCE (RFC 7636)

	// A signed-in user.
	AccessToken  string    `json:"access_token,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	IDToken      string    `json:"id_token,omitempty"` // the id_token_hint at sign-out
	Expiry       time.Time `json:"expiry,omitzero"`    // of the access token
	Subject      string    `json:"sub,omitempty"`
	Username     string    `json:"preferred_username,omitempty"`
	Name         string    `json:"name,omitempty"`

	Created time.Time `json:"created"`
}

func (s *session) signedIn() bool { return s.AccessToken != "" }

// errNoSession is Get's answer for an unknown or expired id.
var errNoSession = errors.New("no such session")

// sessionStore keeps sessions by id. Implementations are safe for concurrent
// use; Put replaces the whole record. They store only a hash of the id, so
// that whoever reads the store cannot ride a session with what they read.
type sessionStore interface {
	Get(id string) (*session, error)
	Put(id string, s *session) error
	Delete(id string) error
}

var (
	_ sessionStore = (*memStore)(nil)
	_ sessionStore = (*dirStore)(nil)
)

// newSessionID returns 256 random bits, base64url: the only thing the
// browser's cookie holds.
func newSessionID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func idKey(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

// memStore keeps sessions in memory: a restart signs everyone out.
type memStore struct {
	mu  sync.Mutex
	m   map[string]session
	ttl time.Duration
}

func newMemStore(ttl time.Duration) *memStore {
	return &memStore{m: map[string]session{}, ttl: ttl}
}

func (m *memStore) Get(id string) (*session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.m[idKey(id)]
	if !ok || time.Since(s.Created) > m.ttl {
		return nil, errNoSession
	}
	return &s, nil
}

func (m *memStore) Put(id string, s *session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	// Drop expired sessions now and then, so that abandoned sign-ins do
	// not pile up.
	if len(m.m)%64 == 0 {
		for k, v := range m.m {
			if time.Since(v.Created) > m.ttl {
				delete(m.m, k)
			}
		}
	}
	m.m[idKey(id)] = *s
	return nil
}

func (m *memStore) Delete(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, idKey(id))
	return nil
}

// dirStore keeps one JSON file per session in a directory (mode 0700, files
// 0600), so that sessions outlive a restart. Writes are atomic (a temporary
// file renamed over the old one).
type dirStore struct {
	dir string
	ttl time.Duration
}

func newDirStore(dir string, ttl time.Duration) (*dirStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &dirStore{dir: dir, ttl: ttl}, nil
}

func (d *dirStore) path(id string) string { return filepath.Join(d.dir, idKey(id)+".json") }

func (d *dirStore) Get(id string) (*session, error) {
	b, err := os.ReadFile(d.path(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, err
	}
	var s session
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	if time.Since(s.Created) > d.ttl {
		_ = os.Remove(d.path(id))
		return nil, errNoSession
	}
	return &s, nil
}

func (d *dirStore) Put(id string, s *session) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(d.dir, ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), d.path(id))
}

func (d *dirStore) Delete(id string) error {
	err := os.Remove(d.path(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
