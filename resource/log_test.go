package resource

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/rotor-idp/rotor/resource/resourcetest"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogging: refresh events are logged with a category and counts, never
// with tokens or key material.
func TestLogging(t *testing.T) {
	iss := resourcetest.New(t)
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	v := newVerifier(t, iss, func(c *Config) { c.Logger = logger })
	token := iss.Token()
	v.Verify(context.Background(), token)

	rs := iss.Current(resourcetest.RS256)
	priv := rs.JWK()
	priv["kid"] = "leaky"
	priv["d"] = "U0VDUkVULVBSSVZBVEUtTUFURVJJQUw"
	iss.SetJWKSHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(mustJSON(map[string]any{"keys": []any{priv, iss.Current(resourcetest.EdDSA).JWK()}}))
	}))
	if err := v.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	iss.SetJWKSHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "secret-internal-detail", 500)
	}))
	v.Refresh(context.Background())
	iss.SetJWKSHandler(nil)
	if err := v.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}

	logs := buf.String()
	for _, want := range []string{`"category":"status"`, `"consecutive_failures":1`, "refresh recovered", skipPrivate, "key set updated"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	for _, secret := range []string{priv["d"].(string), priv["n"].(string), token, token[strings.LastIndexByte(token, '.')+1:], "secret-internal-detail"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
}
