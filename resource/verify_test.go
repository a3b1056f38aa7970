package resource

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rotor-idp/rotor/internal/jwstest"
	"github.com/rotor-idp/rotor/resource/resourcetest"
)

var b64 = base64.RawURLEncoding.EncodeToString

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// rotorHeader is the header Rotor puts on a token signed by k.
func rotorHeader(k *resourcetest.Key) map[string]any {
	return map[string]any{"alg": k.Alg, "kid": k.ID, "typ": "at+jwt"}
}

func TestVerifyAccepts(t *testing.T) {
	iss := resourcetest.New(t)
	v := newVerifier(t, iss, func(c *Config) { c.CacheSize = -1 })
	rs, ed := iss.Current(resourcetest.RS256), iss.Current(resourcetest.EdDSA)
	now := time.Now().Truncate(time.Second)
	claims := func(f func(*resourcetest.Claims)) resourcetest.Option { return resourcetest.WithClaims(f) }
	header := func(f func(map[string]any)) resourcetest.Option { return resourcetest.WithHeader(f) }
	tests := []struct {
		name       string
		token      string
		wantAud    []string
		wantScopes []string
	}{
		{"RS256", iss.Token(), []string{resourcetest.Audience}, []string{"read", "write"}},
		{"EdDSA", iss.Token(resourcetest.WithAlg(resourcetest.EdDSA)), []string{resourcetest.Audience}, []string{"read", "write"}},
		{"aud array", iss.Token(claims(func(c *resourcetest.Claims) { c.Audience = []string{"other", resourcetest.Audience} })),
			[]string{"other", resourcetest.Audience}, []string{"read", "write"}},
		{"typ application/at+jwt", iss.Token(header(func(h map[string]any) { h["typ"] = "application/at+jwt" })),
			[]string{resourcetest.Audience}, []string{"read", "write"}},
		{"typ AT+JWT", iss.Token(header(func(h map[string]any) { h["typ"] = "AT+JWT" })),
			[]string{resourcetest.Audience}, []string{"read", "write"}},
		{"scp array", iss.Token(claims(func(c *resourcetest.Claims) {
			c.Scope = ""
			c.Extra = map[string]any{"scp": []string{"a", "b"}}
		})), []string{resourcetest.Audience}, []string{"a", "b"}},
		{"scp string", iss.Token(claims(func(c *resourcetest.Claims) {
			c.Scope = "x"
			c.Extra = map[string]any{"scp": "a b"}
		})), []string{resourcetest.Audience}, []string{"x", "a", "b"}},
		{"nbf past", iss.Token(claims(func(c *resourcetest.Claims) { c.NotBefore = now.Add(-time.Minute) })),
			[]string{resourcetest.Audience}, []string{"read", "write"}},
		{"expired within leeway", iss.Token(claims(func(c *resourcetest.Claims) { c.ExpiresAt = now.Add(-10 * time.Second) })),
			[]string{resourcetest.Audience}, []string{"read", "write"}},
		{"jwk header ignored", iss.Token(header(func(h map[string]any) { h["jwk"] = ed.JWK() })),
			[]string{resourcetest.Audience}, []string{"read", "write"}},
		{"fractional dates", resourcetest.Sign(rs, rotorHeader(rs), map[string]any{
			"iss": iss.URL(), "aud": resourcetest.Audience, "sub": "s", "client_id": "c", "jti": "j",
			"exp": float64(now.Add(time.Minute).Unix()) + 0.5, "iat": float64(now.Unix()) - 0.25,
		}), []string{resourcetest.Audience}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tt.token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(tt.wantAud, c.Audience()); diff != "" {
				t.Errorf("audience (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantScopes, c.Scopes()); diff != "" {
				t.Errorf("scopes (-want +got):\n%s", diff)
			}
			if c.Issuer != iss.URL() || c.Subject == "" {
				t.Errorf("claims = %+v", c)
			}
		})
	}
}

func TestClaimsFields(t *testing.T) {
	iss := resourcetest.New(t)
	v := newVerifier(t, iss)
	want := iss.DefaultClaims()
	want.NotBefore = want.IssuedAt.Add(-time.Second)
	want.Extra = map[string]any{"tenant": "t-1"}
	token := iss.Token(resourcetest.WithClaims(func(c *resourcetest.Claims) { *c = want }))
	c, err := v.Verify(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	got := resourcetest.Claims{
		Issuer: c.Issuer, Subject: c.Subject, Audience: c.Audience(), ExpiresAt: c.ExpiresAt,
		IssuedAt: c.IssuedAt, NotBefore: c.NotBefore, JWTID: c.JWTID, ClientID: c.ClientID,
		Scope: strings.Join(c.Scopes(), " "),
	}
	var extra struct {
		Tenant string `json:"tenant"`
	}
	if err := c.Decode(&extra); err != nil {
		t.Fatal(err)
	}
	got.Extra = map[string]any{"tenant": extra.Tenant}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
}

// attacker holds keys Rotor never published.
type attacker struct {
	rsa, ed *resourcetest.Key
}

func newAttacker(iss *resourcetest.Issuer) attacker {
	// NewKey returns keys the issuer has not published; they are the
	// attacker's.
	return attacker{rsa: iss.NewKey(resourcetest.RS256), ed: iss.NewKey(resourcetest.EdDSA)}
}

func jwsKey(k *resourcetest.Key) *jwstest.Key {
	return &jwstest.Key{KID: k.ID, Alg: k.Alg, Signer: k.Signer}
}

// claimErrors are this verifier's errors for the claim checks the shared
// catalogue names.
var claimErrors = map[string]error{
	jwstest.WrongIssuer:   errIssuer,
	jwstest.WrongAudience: errAudience,
	jwstest.NoExp:         errNoExp,
	jwstest.Expired:       errExpired,
	jwstest.NoIat:         errNoIat,
	jwstest.IatInFuture:   errIatFuture,
	jwstest.NotYetValid:   errNotYetValid,
	jwstest.NoSub:         errNoSub,
}

// TestAttacks runs the attack catalogue that every verifier in Rotor shares
// (internal/jwstest): each token must be rejected for the stated reason,
// and never by trusting anything the token says about keys.
func TestAttacks(t *testing.T) {
	iss := resourcetest.New(t)
	v := newVerifier(t, iss)
	atk := newAttacker(iss)
	rs := iss.Current(resourcetest.RS256)
	cat := jwstest.Attacks(t, jwstest.Target{
		RS256:         jwsKey(rs),
		EdDSA:         jwsKey(iss.Current(resourcetest.EdDSA)),
		AttackerRS256: jwsKey(atk.rsa),
		AttackerEdDSA: jwsKey(atk.ed),
		Claims:        func() map[string]any { return iss.DefaultClaims().Map() },
	})
	for _, tc := range cat.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			want := fromJWS(tc.Want)
			if tc.Want == nil {
				want = claimErrors[tc.Claim]
			}
			if want == nil {
				t.Fatalf("no error for claim check %q", tc.Claim)
			}
			c, err := v.Verify(context.Background(), tc.Token)
			if !errors.Is(err, want) {
				t.Fatalf("Verify error = %v, want %v", err, want)
			}
			if tc.Want != nil && !errors.Is(err, tc.Want) {
				t.Errorf("error %v does not match the jws reason %v", err, tc.Want)
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Errorf("error %v is not ErrInvalidToken", err)
			}
			if diff := cmp.Diff(Claims{}, c, cmp.AllowUnexported(Claims{})); diff != "" {
				t.Errorf("claims returned with an error (-want +got):\n%s", diff)
			}
			if strings.Contains(err.Error(), rs.ID) || strings.Contains(err.Error(), atk.rsa.ID) {
				t.Errorf("error %q names a kid", err)
			}
		})
	}
	t.Run("empty", func(t *testing.T) {
		if _, err := v.Verify(context.Background(), ""); !errors.Is(err, ErrNoToken) {
			t.Errorf("Verify error = %v, want ErrNoToken", err)
		}
	})
	if n := cat.CanaryHits(); n != 0 {
		t.Errorf("canary server received %d requests; jku/x5u must never be fetched", n)
	}
	if _, err := v.Verify(context.Background(), iss.Token()); err != nil {
		t.Errorf("an untampered token: %v", err)
	}
}

// TestHostileInputBounded checks that rejecting oversized or junk tokens
// costs no allocation before the size cap and a bounded amount after it.
func TestHostileInputBounded(t *testing.T) {
	iss := resourcetest.New(t)
	v := newVerifier(t, iss)
	rs := iss.Current(resourcetest.RS256)
	ctx := context.Background()

	bigPayload := iss.DefaultClaims().Map()
	bigPayload["pad"] = strings.Repeat("p", MaxTokenSize*3/4-1200)
	goodHeaderBadSig := resourcetest.Sign(iss.NewKey(resourcetest.RS256), rotorHeader(rs), bigPayload)
	if len(goodHeaderBadSig) > MaxTokenSize {
		t.Fatalf("fixture too large: %d", len(goodHeaderBadSig))
	}
	tests := []struct {
		name      string
		token     string
		want      error
		maxAllocs float64
		maxBytes  uint64
	}{
		{"1 MiB", strings.Repeat("A", 1<<20), errTooLarge, 0, 0},
		{"just over the cap", strings.Repeat("A", MaxTokenSize+1), errTooLarge, 0, 0},
		{"huge header", strings.Repeat("A", MaxTokenSize-10) + ".AA.AA", errHeaderTooLarge, 0, 0},
		{"dots", strings.Repeat(".", MaxTokenSize), errMalformed, 0, 0},
		{"junk bytes", strings.Repeat("\xff", MaxTokenSize), errMalformed, 0, 0},
		{"big payload, bad signature", goodHeaderBadSig, errSignature, 64, 4 * MaxTokenSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := v.Verify(ctx, tt.token); !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
			allocs := testing.AllocsPerRun(50, func() { v.Verify(ctx, tt.token) })
			if allocs > tt.maxAllocs {
				t.Errorf("%v allocations per Verify, want at most %v", allocs, tt.maxAllocs)
			}
			// No allocation is no byte; where some are allowed, their size
			// is bounded too.
			if tt.maxAllocs > 0 {
				if perRun := bytesPerRun(50, func() { v.Verify(ctx, tt.token) }); perRun > tt.maxBytes {
					t.Errorf("%d bytes allocated per Verify, want at most %d", perRun, tt.maxBytes)
				}
			}
		})
	}
}

// bytesPerRun is testing.AllocsPerRun for bytes: the average heap bytes
// allocated per call of f, after a warm-up call, with GOMAXPROCS at 1. Like
// AllocsPerRun it counts the whole process, so it suits budgets far above
// what a background goroutine might allocate meanwhile.
func bytesPerRun(runs int, f func()) uint64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

func TestNewRejectsBadConfig(t *testing.T) {
	good := Config{Issuer: "https://id.rotor.test", Audience: "api"}
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"alg none", func(c *Config) { c.Algorithms = []string{"none"} }},
		{"alg HS256", func(c *Config) { c.Algorithms = []string{"RS256", "HS256"} }},
		{"alg RS512", func(c *Config) { c.Algorithms = []string{"RS512"} }},
		{"alg PS256", func(c *Config) { c.Algorithms = []string{"PS256"} }},
		{"alg ES256", func(c *Config) { c.Algorithms = []string{"ES256"} }},
		{"alg lower case", func(c *Config) { c.Algorithms = []string{"rs256"} }},
		{"no issuer", func(c *Config) { c.Issuer = "" }},
		{"relative issuer", func(c *Config) { c.Issuer = "id.rotor.test" }},
		{"http issuer", func(c *Config) { c.Issuer = "http://id.rotor.test" }},
		{"issuer with query", func(c *Config) { c.Issuer = "https://id.rotor.test?x=1" }},
		{"issuer with fragment", func(c *Config) { c.Issuer = "https://id.rotor.test#x" }},
		{"http JWKS URL", func(c *Config) { c.JWKSURL = "http://id.rotor.test/jwks" }},
		{"no audience", func(c *Config) { c.Audience = "" }},
		{"max refresh below min", func(c *Config) { c.MinRefresh = time.Minute; c.MaxRefresh = time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.edit(&cfg)
			v, err := New(cfg)
			if err == nil {
				v.Close()
				t.Fatal("New accepted a bad configuration")
			}
		})
	}
	for _, issuer := range []string{"https://id.rotor.test", "http://127.0.0.1:8080", "http://[::1]:1", "http://localhost/tenant"} {
		cfg := good
		cfg.Issuer = issuer
		v, err := New(cfg)
		if err != nil {
			t.Errorf("New(%q): %v", issuer, err)
			continue
		}
		v.Close()
	}
}

func TestNewDoesNotNeedTheNetwork(t *testing.T) {
	v, err := New(Config{Issuer: "http://127.0.0.1:1", Audience: "api", Logger: discard()})
	if err != nil {
		t.Fatalf("New with an unreachable issuer: %v", err)
	}
	defer v.Close()
	if _, err := v.Verify(context.Background(), "a.b.c"); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Verify = %v", err)
	}
}

// ecKey exists to show ES256 keys in a JWKS are skipped, not fatal.
func ecJWK(t *testing.T) map[string]any {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := k.PublicKey.Bytes()
	return map[string]any{"kty": "EC", "crv": "P-256", "kid": "ec", "alg": "ES256", "use": "sig",
		"x": b64(pub[1:33]), "y": b64(pub[33:])}
}
