package resource

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rotor-idp/rotor/resource/resourcetest"
)

// TestJWKSFaultsWhileWarm: a fetch that fails in any way leaves the last good
// key set serving.
func TestJWKSFaultsWhileWarm(t *testing.T) {
	var otherHits atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		w.Write([]byte(`{"keys":[]}`))
	}))
	defer other.Close()

	iss := resourcetest.New(t)
	goodJWKS := iss.JWKS()
	static := func(status int, contentType, body string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(status)
			w.Write([]byte(body))
		})
	}
	big := `{"keys":` + string(mustJSON(json.RawMessage(goodJWKS))[len(`{"keys":`):len(goodJWKS)-1]) +
		`,"pad":"` + strings.Repeat("x", 1<<20) + `"}`
	tests := []struct {
		name    string
		handler http.Handler
		want    string // Stats.LastError
	}{
		{"500", static(500, "application/json", `{"error":"boom"}`), "status"},
		{"404", static(404, "text/plain", "not found"), "status"},
		{"timeout", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }), "timeout"},
		{"HTML", static(200, "text/html", "<html><body>maintenance</body></html>"), "malformed"},
		{"empty key set", static(200, "application/json", `{"keys":[]}`), "no_usable_keys"},
		{"only unusable keys", static(200, "application/json", `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"x"}]}`), "no_usable_keys"},
		{"broken JSON", static(200, "application/json", `{"keys":[{"kty":"RSA",`), "malformed"},
		{"keys not an array", static(200, "application/json", `{"keys":{}}`), "malformed"},
		{"over 1 MiB", static(200, "application/json", big), "too_large"},
		{"redirect to another host", http.RedirectHandler(other.URL+"/jwks.json", http.StatusFound), "redirect"},
		{"304 without a validator", static(304, "", ""), "status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss.SetJWKSHandler(nil)
			// Only the timeout case needs a short timeout; the others must
			// not hit it on a loaded machine (the 1 MiB body takes a while).
			timeout := 30 * time.Second
			if tt.want == "timeout" {
				timeout = 300 * time.Millisecond
			}
			v := newVerifier(t, iss, func(c *Config) { c.HTTPTimeout = timeout })
			// The warm fetch stored an ETag; drop it so the fault handler
			// is asked for the whole set.
			v.etag = ""
			iss.SetJWKSHandler(tt.handler)
			err := v.Refresh(context.Background())
			if err == nil {
				t.Fatal("Refresh succeeded against a faulty JWKS")
			}
			st := v.Stats()
			if st.LastError != tt.want || st.ConsecutiveFailures != 1 || st.Keys != 2 {
				t.Errorf("Stats = %+v, want LastError %q, 1 failure, 2 keys", st, tt.want)
			}
			for _, alg := range []string{resourcetest.RS256, resourcetest.EdDSA} {
				if _, err := v.Verify(context.Background(), iss.Token(resourcetest.WithAlg(alg))); err != nil {
					t.Errorf("%s token after the fault: %v", alg, err)
				}
			}
			iss.SetJWKSHandler(nil)
			if err := v.Refresh(context.Background()); err != nil {
				t.Fatalf("Refresh after the fault: %v", err)
			}
			if st := v.Stats(); st.LastError != "" || st.ConsecutiveFailures != 0 {
				t.Errorf("Stats after recovery = %+v", st)
			}
		})
	}
	if n := otherHits.Load(); n != 0 {
		t.Errorf("the other host received %d requests", n)
	}
}

func TestConditionalRequest(t *testing.T) {
	iss := resourcetest.New(t)
	var inm []string
	var mu sync.Mutex
	iss.SetJWKSHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inm = append(inm, r.Header.Get("If-None-Match"))
		mu.Unlock()
		iss.JWKSHandler().ServeHTTP(w, r)
	}))
	clk := newClock()
	v := newVerifier(t, iss, func(c *Config) { c.now = clk.now })
	before := v.snap.Load()
	clk.advance(time.Minute)
	if err := v.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := v.snap.Load()
	if after.fetched != clk.now() || len(after.keys) != 2 {
		t.Errorf("a 304 must count as a successful refresh: fetched %v, want %v", after.fetched, clk.now())
	}
	for kid, k := range before.keys {
		if after.keys[kid] != k {
			t.Errorf("a 304 replaced key %s", kid)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(inm) != 2 || inm[0] != "" || !strings.HasPrefix(inm[1], `"`) {
		t.Errorf("If-None-Match headers = %q, want none then the ETag", inm)
	}
}

// TestUnknownKidFlood: a thousand concurrent requests with random kids share
// one fetch, and requests inside the floor fail at once without fetching.
func TestUnknownKidFlood(t *testing.T) {
	iss := resourcetest.New(t)
	v := newVerifier(t, iss, func(c *Config) { c.UnknownKeyFloor = time.Hour })
	atk := newAttacker(iss)
	claims := iss.DefaultClaims().Map()

	// Hold the fetch until every request has started, so they all overlap.
	gate := make(chan struct{})
	iss.SetJWKSHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-gate
		iss.JWKSHandler().ServeHTTP(w, r)
	}))
	before := iss.JWKSFetches()
	const n = 1000
	var wg sync.WaitGroup
	var started, rejected atomic.Int64
	for range n {
		wg.Go(func() {
			kid := make([]byte, 16)
			rand.Read(kid)
			token := resourcetest.Sign(atk.ed, map[string]any{"alg": "EdDSA", "kid": b64(kid), "typ": "at+jwt"}, claims)
			started.Add(1)
			if _, err := v.Verify(context.Background(), token); errors.Is(err, errUnknownKID) {
				rejected.Add(1)
			}
		})
	}
	await(t, "all requests to start", func() bool { return started.Load() == n })
	await(t, "the shared fetch to reach the server", func() bool { return iss.JWKSFetches() == before+1 })
	close(gate)
	wg.Wait()
	if got := iss.JWKSFetches() - before; got != 1 {
		t.Errorf("%d JWKS fetches for %d unknown kids, want 1", got, n)
	}
	if rejected.Load() != n {
		t.Errorf("%d of %d requests rejected with unknown kid", rejected.Load(), n)
	}

	// Inside the floor: no fetch at all, and no waiting.
	token := resourcetest.Sign(atk.ed, map[string]any{"alg": "EdDSA", "kid": "another", "typ": "at+jwt"}, claims)
	for range 100 {
		if _, err := v.Verify(context.Background(), token); !errors.Is(err, errUnknownKID) {
			t.Fatalf("Verify = %v", err)
		}
	}
	if got := iss.JWKSFetches() - before; got != 1 {
		t.Errorf("%d JWKS fetches after a second wave inside the floor, want 1", got)
	}
}

func TestUnknownKidFloorElapses(t *testing.T) {
	iss := resourcetest.New(t)
	clk := newClock()
	v := newVerifier(t, iss, func(c *Config) { c.now = clk.now; c.UnknownKeyFloor = time.Minute })
	late := iss.NewKey(resourcetest.RS256)
	token := iss.Token(resourcetest.WithKey(late))
	before := iss.JWKSFetches()
	if _, err := v.Verify(context.Background(), token); !errors.Is(err, errUnknownKID) {
		t.Fatalf("Verify = %v", err)
	}
	// Published without a pre-publication period: the next request inside
	// the floor still fails, the first one after it fetches and succeeds.
	iss.Publish(late)
	clk.advance(30 * time.Second)
	if _, err := v.Verify(context.Background(), token); !errors.Is(err, errUnknownKID) {
		t.Fatalf("Verify inside the floor = %v", err)
	}
	clk.advance(31 * time.Second)
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatalf("Verify after the floor: %v", err)
	}
	if got := iss.JWKSFetches() - before; got != 2 {
		t.Errorf("%d fetches, want 2", got)
	}
}

// TestColdStartRecovers: with the JWKS down at start every Verify fails
// closed, and the verifier recovers on its own once the JWKS is back.
func TestColdStartRecovers(t *testing.T) {
	iss := resourcetest.New(t)
	iss.SetJWKSHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	v := newColdVerifier(t, iss, func(c *Config) {
		c.MinRefresh = 10 * time.Millisecond
		c.MaxBackoff = 50 * time.Millisecond
	})
	token := iss.Token()
	await(t, "two failed fetches", func() bool { return v.Stats().ConsecutiveFailures >= 2 })
	for range 3 {
		if _, err := v.Verify(context.Background(), token); !errors.Is(err, ErrKeysUnavailable) {
			t.Fatalf("Verify while the JWKS is down = %v, want ErrKeysUnavailable", err)
		}
	}
	if st := v.Stats(); st.Keys != 0 || st.LastError != "status" || !st.LastRefresh.IsZero() {
		t.Errorf("Stats while down = %+v", st)
	}
	iss.SetJWKSHandler(nil)
	await(t, "the background refresh to recover", func() bool { return v.Stats().Keys == 2 })
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatalf("Verify after recovery: %v", err)
	}
	if st := v.Stats(); st.ConsecutiveFailures != 0 || st.LastError != "" {
		t.Errorf("Stats after recovery = %+v", st)
	}
}

func TestDiscovery(t *testing.T) {
	tests := []struct {
		name     string
		metadata func(iss *resourcetest.Issuer) any
		want     string
	}{
		{"issuer mismatch", func(iss *resourcetest.Issuer) any {
			return map[string]any{"issuer": "https://evil.example", "jwks_uri": iss.JWKSURL()}
		}, "issuer_mismatch"},
		{"issuer with trailing slash", func(iss *resourcetest.Issuer) any {
			return map[string]any{"issuer": iss.URL() + "/", "jwks_uri": iss.JWKSURL()}
		}, "issuer_mismatch"},
		{"issuer missing", func(iss *resourcetest.Issuer) any { return map[string]any{"jwks_uri": iss.JWKSURL()} }, "issuer_mismatch"},
		{"jwks_uri missing", func(iss *resourcetest.Issuer) any { return map[string]any{"issuer": iss.URL()} }, "discovery"},
		{"jwks_uri plain http off loopback", func(iss *resourcetest.Issuer) any {
			return map[string]any{"issuer": iss.URL(), "jwks_uri": "http://keys.example/jwks.json"}
		}, "discovery"},
		{"not JSON", func(iss *resourcetest.Issuer) any { return json.RawMessage(`<html>`) }, "discovery"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := resourcetest.New(t)
			iss.SetMetadataHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if raw, ok := tt.metadata(iss).(json.RawMessage); ok {
					w.Write(raw)
					return
				}
				w.Write(mustJSON(tt.metadata(iss)))
			}))
			v := newColdVerifier(t, iss)
			if err := v.Refresh(context.Background()); err == nil {
				t.Fatal("Refresh accepted bad metadata")
			}
			if got := v.Stats().LastError; got != tt.want {
				t.Errorf("LastError = %q, want %q", got, tt.want)
			}
			if _, err := v.Verify(context.Background(), iss.Token()); !errors.Is(err, ErrKeysUnavailable) {
				t.Errorf("Verify = %v, want ErrKeysUnavailable", err)
			}
			if n := iss.JWKSFetches(); n != 0 {
				t.Errorf("%d JWKS fetches after refused metadata", n)
			}
		})
	}
}

func TestExplicitJWKSURLSkipsDiscovery(t *testing.T) {
	iss := resourcetest.New(t)
	var metadataHits atomic.Int64
	iss.SetMetadataHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { metadataHits.Add(1) }))
	v := newVerifier(t, iss, func(c *Config) { c.JWKSURL = iss.JWKSURL() })
	if _, err := v.Verify(context.Background(), iss.Token()); err != nil {
		t.Fatal(err)
	}
	if metadataHits.Load() != 0 {
		t.Error("metadata fetched despite an explicit JWKS URL")
	}
}

func TestMetadataURL(t *testing.T) {
	for issuer, want := range map[string]string{
		"https://id.example.com":          "https://id.example.com/.well-known/oauth-authorization-server",
		"https://id.example.com/":         "https://id.example.com/.well-known/oauth-authorization-server",
		"https://id.example.com/tenant/1": "https://id.example.com/.well-known/oauth-authorization-server/tenant/1",
		"http://127.0.0.1:8080":           "http://127.0.0.1:8080/.well-known/oauth-authorization-server",
	} {
		got, err := metadataURL(issuer)
		if err != nil || got != want {
			t.Errorf("metadataURL(%q) = %q, %v; want %q", issuer, got, err, want)
		}
	}
}

// TestRotation: Rotor publishes its next key before signing with it, so a
// verifier that refreshed on schedule verifies the first token signed with it
// without any extra fetch.
func TestRotation(t *testing.T) {
	iss := resourcetest.New(t)
	v := newVerifier(t, iss)
	old := iss.Current(resourcetest.RS256)
	oldToken := iss.Token()
	if _, err := v.Verify(context.Background(), oldToken); err != nil {
		t.Fatal(err)
	}

	next := iss.NewKey(resourcetest.RS256)
	iss.Publish(next)                                       // Rotor's "next" state
	if err := v.Refresh(context.Background()); err != nil { // the scheduled refresh
		t.Fatal(err)
	}
	fetches := iss.JWKSFetches()
	iss.SetCurrent(next) // rotate: next becomes current, old is retired
	newToken := iss.Token()
	if _, err := v.Verify(context.Background(), newToken); err != nil {
		t.Fatalf("token from the promoted key: %v", err)
	}
	if _, err := v.Verify(context.Background(), oldToken); err != nil {
		t.Fatalf("token from the retired key: %v", err)
	}
	if got := iss.JWKSFetches() - fetches; got != 0 {
		t.Errorf("%d extra JWKS fetches after rotation, want 0", got)
	}

	// The retired key's lifetime ends: it leaves the JWKS.
	iss.Unpublish(old)
	if err := v.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), oldToken); !errors.Is(err, errUnknownKID) {
		t.Errorf("token of an unpublished key = %v, want unknown kid", err)
	}
	if _, err := v.Verify(context.Background(), newToken); err != nil {
		t.Errorf("token of the current key: %v", err)
	}
}

// TestMaxAgeDrivesRefresh: the background refresh follows the JWKS max-age,
// so a pre-published key is seen without any request asking for it. The
// wait is bounded by await's deadline (10s), far below any other schedule
// the loop could be on (the issuer's default max-age is a minute, MaxRefresh
// 15 minutes), so only the 1s max-age can meet it however loaded the
// machine; TestNextDelay pins the schedule itself.
func TestMaxAgeDrivesRefresh(t *testing.T) {
	iss := resourcetest.New(t)
	iss.SetMaxAge(time.Second)
	v := newColdVerifier(t, iss)
	await(t, "the first key set", func() bool { return v.Stats().Keys == 2 })
	next := iss.NewKey(resourcetest.EdDSA)
	iss.Publish(next)
	await(t, "the next key to be picked up", func() bool { return v.Stats().Keys == 3 })
	if v.Stats().Fetches < 2 {
		t.Errorf("Fetches = %d", v.Stats().Fetches)
	}
}

// TestRevocation: a revoked key stops verifying after the next refresh,
// including tokens already in the verified-token cache.
func TestRevocation(t *testing.T) {
	iss := resourcetest.New(t)
	v := newVerifier(t, iss)
	rs := iss.Current(resourcetest.RS256)
	rsToken := iss.Token()
	edToken := iss.Token(resourcetest.WithAlg(resourcetest.EdDSA))
	for range 2 { // the second round comes from the cache
		for _, tok := range []string{rsToken, edToken} {
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Fatal(err)
			}
		}
	}
	if st := v.Stats(); st.CacheHits != 2 || st.CacheEntries != 2 {
		t.Fatalf("Stats = %+v, want 2 cache hits and 2 entries", st)
	}
	iss.Unpublish(rs)
	if err := v.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), rsToken); !errors.Is(err, errUnknownKID) {
		t.Errorf("cached token of a revoked key = %v, want unknown kid", err)
	}
	if _, err := v.Verify(context.Background(), edToken); err != nil {
		t.Errorf("token of the other key: %v", err)
	}
	if st := v.Stats(); st.Keys != 1 || st.CacheEntries != 1 {
		t.Errorf("Stats = %+v, want 1 key and 1 cache entry", st)
	}
}

// TestMaxStale: the last good set serves until MaxStale, then everything
// fails closed until a fetch succeeds again.
func TestMaxStale(t *testing.T) {
	iss := resourcetest.New(t)
	clk := newClock()
	v := newVerifier(t, iss, func(c *Config) { c.now = clk.now; c.MaxStale = time.Hour })
	token := iss.Token(resourcetest.WithClaims(func(c *resourcetest.Claims) { c.ExpiresAt = c.ExpiresAt.Add(24 * time.Hour) }))
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	iss.SetJWKSHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 500) }))
	clk.advance(59 * time.Minute)
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatalf("inside MaxStale: %v", err)
	}
	clk.advance(2 * time.Minute)
	if _, err := v.Verify(context.Background(), token); !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("past MaxStale: %v, want ErrKeysUnavailable", err)
	}
	if st := v.Stats(); st.KeySetAge != 61*time.Minute {
		t.Errorf("KeySetAge = %v", st.KeySetAge)
	}
	iss.SetJWKSHandler(nil)
	if err := v.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatalf("after a good fetch: %v", err)
	}
}

func TestParseKeySet(t *testing.T) {
	iss := resourcetest.New(t)
	rs, ed := iss.Current(resourcetest.RS256), iss.Current(resourcetest.EdDSA)
	with := func(k *resourcetest.Key, edit func(map[string]any)) map[string]any {
		m := k.JWK()
		edit(m)
		return m
	}
	small := map[string]any{"kty": "RSA", "kid": "small", "e": "AQAB", "n": b64(append(append([]byte{0xC0}, make([]byte, 126)...), 0x01))}
	tests := []struct {
		name        string
		keys        []any
		wantKids    []string
		wantSkipped map[string]int
	}{
		{"Rotor's set", []any{rs.JWK(), ed.JWK()}, []string{rs.ID, ed.ID}, map[string]int{}},
		{"no use or alg", []any{with(rs, func(m map[string]any) { delete(m, "use"); delete(m, "alg") })}, []string{rs.ID}, map[string]int{}},
		{"mixed", []any{
			rs.JWK(),
			with(ed, func(m map[string]any) { m["use"] = "enc" }),
			small,
			with(rs, func(m map[string]any) { m["kid"] = "nokid"; delete(m, "kid") }),
			with(rs, func(m map[string]any) { m["kid"] = "priv"; m["d"] = "AQAB" }),
			map[string]any{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
			ecJWK(t),
			map[string]any{"kty": "OKP", "crv": "X25519", "kid": "x", "x": ed.JWK()["x"]},
			with(rs, func(m map[string]any) { m["kid"] = "ps"; m["alg"] = "PS256" }),
			with(ed, func(m map[string]any) { m["kid"] = "edrs"; m["alg"] = "RS256" }),
			with(ed, func(m map[string]any) { m["kid"] = "short"; m["x"] = "AQAB" }),
			with(rs, func(m map[string]any) { m["kid"] = "ops"; m["key_ops"] = []string{"encrypt"} }),
			with(rs, func(m map[string]any) { m["kid"] = "e"; m["e"] = "AQ" }),
			"not an object",
		}, []string{rs.ID}, map[string]int{
			skipUse: 2, skipRSASize: 1, skipNoKID: 1, skipPrivate: 2, skipKty: 2, skipAlg: 2, skipEncoding: 2, skipNotObject: 1,
		}},
		{"duplicate kid", []any{rs.JWK(), with(ed, func(m map[string]any) { m["kid"] = rs.ID }), ed.JWK()},
			[]string{ed.ID}, map[string]int{skipDupKID: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, skipped, err := parseKeySet(mustJSON(map[string]any{"keys": tt.keys}))
			if err != nil {
				t.Fatal(err)
			}
			var kids []string
			for kid := range keys {
				kids = append(kids, kid)
			}
			sortStrings := cmp.Transformer("sort", func(in []string) []string {
				out := append([]string(nil), in...)
				for i := range out {
					for j := i + 1; j < len(out); j++ {
						if out[j] < out[i] {
							out[i], out[j] = out[j], out[i]
						}
					}
				}
				return out
			})
			if diff := cmp.Diff(tt.wantKids, kids, sortStrings); diff != "" {
				t.Errorf("usable kids (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSkipped, skipped); diff != "" {
				t.Errorf("skipped (-want +got):\n%s", diff)
			}
		})
	}
	for _, body := range []string{``, `null`, `[]`, `{}`, `{"keys":null}`, `{"keys":"x"}`, `<html>`} {
		if _, _, err := parseKeySet([]byte(body)); err == nil {
			t.Errorf("parseKeySet(%q) succeeded", body)
		}
	}
}

func TestNextDelay(t *testing.T) {
	iss := resourcetest.New(t)
	v := newColdVerifier(t, iss, func(c *Config) {
		c.MinRefresh = time.Second
		c.MaxRefresh = 10 * time.Minute
		c.MaxBackoff = 30 * time.Second
	})
	for range 100 {
		for maxAge, want := range map[time.Duration]time.Duration{
			0: time.Second, 2 * time.Second: 2 * time.Second, time.Hour: 10 * time.Minute,
		} {
			if d := v.nextDelay(&flight{maxAge: maxAge}); d > want || d < want*9/10 {
				t.Fatalf("delay for max-age %v = %v, want in [%v, %v]", maxAge, d, want*9/10, want)
			}
		}
	}
	v.Close() // stop the background loop so failures stay ours
	for failures, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 6: 30 * time.Second, 100: 30 * time.Second} {
		v.smu.Lock()
		v.failures = failures
		v.smu.Unlock()
		if d := v.nextDelay(&flight{err: errors.New("x")}); d > want || d < want/2 {
			t.Errorf("backoff after %d failures = %v, want in [%v, %v]", failures, d, want/2, want)
		}
	}
}

// TestConcurrentVerifyDuringRefresh exercises the lock-free read path
// against refreshes that change the key set, for the race detector.
func TestConcurrentVerifyDuringRefresh(t *testing.T) {
	iss := resourcetest.New(t)
	v := newVerifier(t, iss, func(c *Config) { c.CacheSize = 64 })
	tokens := make([]string, 32)
	for i := range tokens {
		tokens[i] = iss.Token(resourcetest.WithAlg([]string{resourcetest.RS256, resourcetest.EdDSA}[i%2]))
	}
	extra := iss.NewKey(resourcetest.EdDSA)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := v.Verify(context.Background(), tokens[i%len(tokens)]); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for i := range 20 {
		if i%2 == 0 {
			iss.Publish(extra)
		} else {
			iss.Unpublish(extra)
		}
		if err := v.Refresh(context.Background()); err != nil {
			t.Error(err)
		}
		_ = v.Stats()
	}
	close(stop)
	wg.Wait()
	if st := v.Stats(); st.CacheHits == 0 {
		t.Errorf("no cache hits: %+v", st)
	}
}

func TestCloseStopsFetching(t *testing.T) {
	iss := resourcetest.New(t)
	v := newVerifier(t, iss)
	v.Close()
	n := iss.JWKSFetches()
	if err := v.Refresh(context.Background()); !errors.Is(err, ErrKeysUnavailable) {
		t.Errorf("Refresh after Close = %v", err)
	}
	if _, err := v.Verify(context.Background(), iss.Token(resourcetest.WithKey(iss.NewKey(resourcetest.RS256)))); err == nil {
		t.Error("Verify of an unknown kid after Close succeeded")
	}
	if iss.JWKSFetches() != n {
		t.Error("fetched after Close")
	}
}
