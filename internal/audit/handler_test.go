package audit

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestLineHandlerMatchesJSONHandler holds the audit handler's lines to what
// slog.JSONHandler writes for the same records, escaping included.
func TestLineHandlerMatchesJSONHandler(t *testing.T) {
	at := time.Date(2026, 12, 7, 23, 59, 1, 123456789, time.UTC)
	for _, tc := range []struct {
		name  string
		attrs []slog.Attr
	}{
		{"plain", []slog.Attr{slog.String("event", "token.issued"), slog.String("kid", "U_1Y0sbukjWZM97TR")}},
		{"escapes", []slog.Attr{slog.String("username", "a\"b\\c<d>&e\n\tf\x00"), slog.String("u", "ünï\xff")}},
		{"kinds", []slog.Attr{slog.Int("n", -3), slog.Uint64("u", 7), slog.Bool("ok", true), slog.Float64("f", 1.5),
			slog.Duration("d", time.Second), slog.Time("t", at), slog.Any("list", []string{"a", "b"})}},
		{"group", []slog.Attr{slog.Group("g", slog.String("a", "1"), slog.Int("b", 2))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got, want bytes.Buffer
			h := newLineHandler(&got, slog.LevelInfo)
			slog.New(h).With("log", "audit").LogAttrs(t.Context(), slog.LevelInfo, "m", tc.attrs...)
			if err := h.out.close(); err != nil {
				t.Fatal(err)
			}
			slog.New(slog.NewJSONHandler(&want, nil)).With("log", "audit").LogAttrs(t.Context(), slog.LevelInfo, "m", tc.attrs...)
			var g, w map[string]any
			if err := json.Unmarshal(got.Bytes(), &g); err != nil {
				t.Fatalf("not JSON: %q: %v", got.String(), err)
			}
			if err := json.Unmarshal(want.Bytes(), &w); err != nil {
				t.Fatal(err)
			}
			delete(g, "time")
			delete(w, "time")
			if grp, ok := w["g"].(map[string]any); ok { // slog nests groups; the audit log flattens them
				delete(w, "g")
				for k, v := range grp {
					w["g."+k] = v
				}
			}
			if diff := cmp.Diff(w, g); diff != "" {
				t.Errorf("(-JSONHandler +audit):\n%s", diff)
			}
			if !strings.HasSuffix(got.String(), "}\n") || strings.Count(got.String(), "\n") != 1 {
				t.Errorf("not one line: %q", got.String())
			}
		})
	}
}

// TestEmitFastPathMatchesSlogPath holds Logger.Emit's direct encoding to
// the line its slog path writes for the same event.
func TestEmitFastPathMatchesSlogPath(t *testing.T) {
	ctx := WithRequestID(t.Context(), "req-1")
	e := Event{Name: TokenIssued, Actor: Client("svc"), Remote: "192.0.2.7", Attrs: []slog.Attr{
		slog.String("kid", "k\"1"), slog.Bool("refresh_token", true), slog.Int("n", 3)}}
	decode := func(b *bytes.Buffer) map[string]any {
		var m map[string]any
		if err := json.Unmarshal(b.Bytes(), &m); err != nil {
			t.Fatalf("%q: %v", b.String(), err)
		}
		delete(m, "time")
		return m
	}
	var fast, slow bytes.Buffer
	lf := New(&fast)
	lf.Emit(ctx, e)
	_ = lf.Close()
	ls := New(&slow)
	ls.fast = nil // the slog path
	ls.Emit(ctx, e)
	_ = ls.Close()
	if diff := cmp.Diff(decode(&slow), decode(&fast)); diff != "" {
		t.Errorf("(-slog path +fast path):\n%s", diff)
	}
}
