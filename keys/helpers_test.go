package keys

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"
)

// t0 is the injected clock's epoch in these tests.
var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// Test key-encryption keys (random bytes made for these tests only), in the
// encodings ParseKEKs accepts.
const (
	testKEK1 = "k1:pU3KGCUwux1tEyze1iN7LtkeP3IfyxlxF0SU1kk8nVw=" // std, padded
	testKEK2 = "k2:NGC-MSAeaf7aoO7ouZl_XHwpmf2v5ZMlPNZUr0361xQ"  // URL, unpadded
	testKEK3 = "k1:J6Cus/7pIy+K8iEfnuSRxbEL7LVWO/web5NCfsvI/ik=" // another key under id k1
	testKEK4 = "k4:VeXNjkbcjtS3wnZNKlpNdncG+F2GkAJK1r2jQBvpyMs"  // std, unpadded
)

func mustKEKs(t testing.TB, s string) *KEKSet {
	t.Helper()
	k, err := ParseKEKs(s)
	if err != nil {
		t.Fatalf("ParseKEKs: %v", err)
	}
	return k
}

// Generating RSA keys is slow (and slower under -race), so tests share a few
// per algorithm, sealed under testKEK1.
var (
	genMu    sync.Mutex
	genCache = map[Alg][]Record{}
)

// testKey returns the i-th shared generated key of alg with the given state
// and times zeroed except CreatedAt = t0.
func testKey(t testing.TB, alg Alg, i int) Record {
	t.Helper()
	genMu.Lock()
	defer genMu.Unlock()
	keks := mustKEKs(t, testKEK1)
	for len(genCache[alg]) <= i {
		r, err := Generate(alg, keks, t0)
		if err != nil {
			t.Fatalf("Generate(%s): %v", alg, err)
		}
		genCache[alg] = append(genCache[alg], r)
	}
	return genCache[alg][i]
}

// withState returns r in state s with the times that state implies.
func withState(r Record, s State, created, activated, retired, revoked time.Time) Record {
	r.State, r.CreatedAt, r.ActivatedAt, r.RetiredAt, r.RevokedAt = s, created, activated, retired, revoked
	return r
}

// secretForms lists ways a secret could show up in printed output.
func secretForms(secret []byte) []string {
	forms := []string{
		string(secret),
		hex.EncodeToString(secret),
		strings.ToUpper(hex.EncodeToString(secret)),
		base64.StdEncoding.EncodeToString(secret)[:16],
		base64.RawURLEncoding.EncodeToString(secret)[:16],
		strings.Trim(fmt.Sprint(secret[:8]), "[]"),               // 1 2 3 …
		strings.Trim(fmt.Sprintf("%#v", secret[:8]), "[]byte{}"), // 0x1, 0x2 …
		new(big.Int).SetBytes(secret).String(),
	}
	return forms
}

// assertRedacted prints v every way we can think of, alone and inside
// structs, and fails if any of the secrets shows up.
func assertRedacted(t *testing.T, v any, secrets ...[]byte) {
	t.Helper()
	type exported struct{ V any }
	type unexported struct{ v any }
	holders := []any{v, exported{v}, &exported{v}, unexported{v}, []any{v}, map[string]any{"v": v}}
	var outs []string
	for _, h := range holders {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
			outs = append(outs, fmt.Sprintf(verb, h))
		}
		outs = append(outs, fmt.Sprint(h), fmt.Sprintln(h))
		j, err := json.Marshal(h)
		if err == nil {
			outs = append(outs, string(j))
		}
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("msg", "v", h)
		slog.New(slog.NewTextHandler(&buf, nil)).Info("msg", "v", h)
		outs = append(outs, buf.String())
	}
	// fmt prefers Format, so call the other methods directly too.
	if e, ok := v.(error); ok {
		outs = append(outs, e.Error())
	}
	if s, ok := v.(fmt.Stringer); ok {
		outs = append(outs, s.String())
	}
	if s, ok := v.(fmt.GoStringer); ok {
		outs = append(outs, s.GoString())
	}
	if s, ok := v.(slog.LogValuer); ok {
		outs = append(outs, s.LogValue().Resolve().String())
	}
	if s, ok := v.(json.Marshaler); ok {
		j, _ := s.MarshalJSON()
		outs = append(outs, string(j))
	}
	for _, out := range outs {
		for _, s := range secrets {
			for _, f := range secretForms(s) {
				if len(f) >= 6 && strings.Contains(out, f) {
					t.Fatalf("output reveals secret (form %q):\n%s", f, out)
				}
			}
		}
	}
}
