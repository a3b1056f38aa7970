package resource

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
			"iss": iss.URL(), "aud": resourcetest.Audience, "sub": "s",
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

// unsigned builds header.payload.signature from JSON values and raw bytes.
func unsigned(header, payload any, sig []byte) string {
	return b64(mustJSON(header)) + "." + b64(mustJSON(payload)) + "." + b64(sig)
}

func hs256(secret []byte, header, payload any) string {
	input := b64(mustJSON(header)) + "." + b64(mustJSON(payload))
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(input))
	return input + "." + b64(mac.Sum(nil))
}

func selfSignedCert(t *testing.T, k *resourcetest.Key) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "attacker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// TestAttacks is the attack catalogue: each token must be rejected, for the
// stated reason, and never by trusting anything the token says about keys.
func TestAttacks(t *testing.T) {
	iss := resourcetest.New(t)
	v := newVerifier(t, iss)
	rs, ed := iss.Current(resourcetest.RS256), iss.Current(resourcetest.EdDSA)
	atk := newAttacker(iss)
	claims := iss.DefaultClaims().Map()
	now := time.Now()

	// A canary server: a jku or x5u pointing here must never be fetched.
	var canaryHits atomic.Int64
	canary := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		canaryHits.Add(1)
		w.Write(mustJSON(map[string]any{"keys": []any{atk.rsa.JWK()}}))
	}))
	defer canary.Close()

	rsPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(rs.Public()))})
	rsJWK := mustJSON(rs.JWK())

	withHeader := func(k *resourcetest.Key, edit func(map[string]any)) string {
		h := rotorHeader(k)
		edit(h)
		return resourcetest.Sign(k, h, claims)
	}
	withClaims := func(edit func(map[string]any)) string {
		c := iss.DefaultClaims().Map()
		edit(c)
		return resourcetest.Sign(rs, rotorHeader(rs), c)
	}
	good := iss.Token()
	parts := strings.Split(good, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[len(sig)/2] ^= 0x10
	bitFlipped := parts[0] + "." + parts[1] + "." + b64(sig)

	refreshToken := "rtr_" + b64(make([]byte, 32))
	if len(refreshToken) != 4+43 {
		t.Fatalf("refresh token fixture has length %d", len(refreshToken))
	}
	jwsJSON := string(mustJSON(map[string]any{"protected": parts[0], "payload": parts[1], "signature": parts[2]}))
	jwsJSONGeneral := string(mustJSON(map[string]any{"payload": parts[1],
		"signatures": []any{map[string]any{"protected": parts[0], "signature": parts[2]}}}))

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"alg none", unsigned(map[string]any{"alg": "none", "kid": rs.ID, "typ": "at+jwt"}, claims, nil), errMalformed},
		{"alg none signed", withHeader(rs, func(h map[string]any) { h["alg"] = "none" }), errAlg},
		{"alg NONE", withHeader(rs, func(h map[string]any) { h["alg"] = "NONE" }), errAlg},
		{"alg nOnE", withHeader(rs, func(h map[string]any) { h["alg"] = "nOnE" }), errAlg},
		{"alg none without kid", unsigned(map[string]any{"alg": "none", "typ": "at+jwt"}, claims, []byte("x")), errAlg},
		{"HS256 with RSA public key PEM", hs256(rsPEM, map[string]any{"alg": "HS256", "kid": rs.ID, "typ": "at+jwt"}, claims), errAlg},
		{"HS256 with RSA public key JWK", hs256(rsJWK, map[string]any{"alg": "HS256", "kid": rs.ID, "typ": "at+jwt"}, claims), errAlg},
		{"RS256 header with Ed25519 kid", resourcetest.Sign(ed, map[string]any{"alg": "RS256", "kid": ed.ID, "typ": "at+jwt"}, claims), errKeyMismatch},
		{"EdDSA header with RSA kid", resourcetest.Sign(rs, map[string]any{"alg": "EdDSA", "kid": rs.ID, "typ": "at+jwt"}, claims), errKeyMismatch},
		{"RS256 relabelled RS512", withHeader(rs, func(h map[string]any) { h["alg"] = "RS512" }), errAlg},
		{"RS256 relabelled PS256", withHeader(rs, func(h map[string]any) { h["alg"] = "PS256" }), errAlg},
		{"alg rs256 lower case", withHeader(rs, func(h map[string]any) { h["alg"] = "rs256" }), errAlg},
		{"stripped signature", parts[0] + "." + parts[1] + ".", errMalformed},
		{"two segments", parts[0] + "." + parts[1], errMalformed},
		{"bit-flipped signature", bitFlipped, errSignature},
		{"signature of another token", parts[0] + "." + strings.Split(iss.Token(), ".")[1] + "." + parts[2], errSignature},
		{"embedded jwk with attacker kid", withHeader(atk.rsa, func(h map[string]any) { h["jwk"] = atk.rsa.JWK() }), errUnknownKID},
		{"embedded jwk with Rotor kid", withHeader(atk.rsa, func(h map[string]any) { h["jwk"] = atk.rsa.JWK(); h["kid"] = rs.ID }), errSignature},
		{"embedded x5c with Rotor kid", withHeader(atk.rsa, func(h map[string]any) {
			h["x5c"] = []string{selfSignedCert(t, atk.rsa)}
			h["kid"] = rs.ID
		}), errSignature},
		{"embedded x5c without kid", withHeader(atk.rsa, func(h map[string]any) {
			h["x5c"] = []string{selfSignedCert(t, atk.rsa)}
			delete(h, "kid")
		}), errNoKID},
		{"jku to canary", withHeader(atk.rsa, func(h map[string]any) { h["jku"] = canary.URL + "/jwks.json" }), errUnknownKID},
		{"x5u to canary", withHeader(atk.rsa, func(h map[string]any) { h["x5u"] = canary.URL + "/cert.pem" }), errUnknownKID},
		{"jku to canary with Rotor kid", withHeader(atk.rsa, func(h map[string]any) { h["jku"] = canary.URL; h["kid"] = rs.ID }), errSignature},
		{"kid path traversal", withHeader(atk.rsa, func(h map[string]any) { h["kid"] = "../../etc/passwd" }), errUnknownKID},
		{"kid quotes", withHeader(atk.rsa, func(h map[string]any) { h["kid"] = `a"b' OR '1'='1` }), errUnknownKID},
		{"kid NUL", withHeader(atk.rsa, func(h map[string]any) { h["kid"] = rs.ID + "\x00" }), errUnknownKID},
		{"kid 64 KiB", withHeader(rs, func(h map[string]any) { h["kid"] = strings.Repeat("k", 64<<10) }), errTooLarge},
		{"kid 1100 bytes", withHeader(rs, func(h map[string]any) { h["kid"] = strings.Repeat("k", 1100) }), errHeaderTooLarge},
		{"kid empty", withHeader(rs, func(h map[string]any) { h["kid"] = "" }), errNoKID},
		{"kid missing", withHeader(rs, func(h map[string]any) { delete(h, "kid") }), errNoKID},
		{"kid not a string", withHeader(rs, func(h map[string]any) { h["kid"] = 7 }), errHeader},
		{"typ missing", withHeader(rs, func(h map[string]any) { delete(h, "typ") }), errTyp},
		{"typ JWT", withHeader(rs, func(h map[string]any) { h["typ"] = "JWT" }), errTyp},
		{"typ at+jwt with suffix", withHeader(rs, func(h map[string]any) { h["typ"] = "at+jwt2" }), errTyp},
		{"crit unknown", withHeader(rs, func(h map[string]any) { h["crit"] = []string{"exp"}; h["exp"] = 1 }), errCrit},
		{"crit empty", withHeader(rs, func(h map[string]any) { h["crit"] = []string{} }), errCrit},
		{"header not an object", resourcetest.SignRaw(rs, []byte(`["alg"]`), mustJSON(claims)), errHeader},
		{"header not JSON", resourcetest.SignRaw(rs, []byte(`{"alg":"RS256",`), mustJSON(claims)), errHeader},
		{"header duplicate alg", resourcetest.SignRaw(rs, []byte(`{"alg":"RS256","kid":"`+rs.ID+`","typ":"at+jwt","alg":"none"}`), mustJSON(claims)), errHeader},
		{"header escaped duplicate alg", resourcetest.SignRaw(rs, []byte(`{"alg":"RS256","kid":"`+rs.ID+`","typ":"at+jwt","\u0061lg":"none"}`), mustJSON(claims)), errHeader},
		{"header ALG upper case name", resourcetest.SignRaw(rs, []byte(`{"ALG":"RS256","kid":"`+rs.ID+`","typ":"at+jwt"}`), mustJSON(claims)), errAlg},
		{"iss wrong", withClaims(func(c map[string]any) { c["iss"] = "https://evil.example" }), errIssuer},
		{"iss trailing slash", withClaims(func(c map[string]any) { c["iss"] = iss.URL() + "/" }), errIssuer},
		{"iss missing", withClaims(func(c map[string]any) { delete(c, "iss") }), errIssuer},
		{"aud wrong", withClaims(func(c map[string]any) { c["aud"] = "https://other.api" }), errAudience},
		{"aud array without ours", withClaims(func(c map[string]any) { c["aud"] = []string{"a", "b"} }), errAudience},
		{"aud missing", withClaims(func(c map[string]any) { delete(c, "aud") }), errAudience},
		{"exp missing", withClaims(func(c map[string]any) { delete(c, "exp") }), errNoExp},
		{"exp past", withClaims(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() }), errExpired},
		{"exp as string", withClaims(func(c map[string]any) { c["exp"] = "9999999999" }), errClaims},
		{"exp huge", withClaims(func(c map[string]any) { c["exp"] = 1e300 }), errClaims},
		{"iat missing", withClaims(func(c map[string]any) { delete(c, "iat") }), errNoIat},
		{"iat future", withClaims(func(c map[string]any) { c["iat"] = now.Add(time.Hour).Unix() }), errIatFuture},
		{"sub missing", withClaims(func(c map[string]any) { delete(c, "sub") }), errNoSub},
		{"nbf future", withClaims(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() }), errNotYetValid},
		{"claims not JSON", resourcetest.SignRaw(rs, mustJSON(rotorHeader(rs)), []byte("not json")), errClaims},
		{"JWS JSON serialization flattened", jwsJSON, errMalformed},
		{"JWS JSON serialization general", jwsJSONGeneral, errMalformed},
		{"five-segment JWE", parts[0] + ".ZW5jcnlwdGVkLWtleQ.aXY." + parts[1] + ".dGFn", errMalformed},
		{"padding", parts[0] + "." + parts[1] + "." + parts[2] + "==", errMalformed},
		{"line break", parts[0] + ".\n" + parts[1] + "." + parts[2], errMalformed},
		{"leading space", " " + good, errMalformed},
		{"refresh token", refreshToken, errMalformed},
		{"very large token", strings.Repeat("a", 1<<20), errTooLarge},
		{"empty", "", ErrNoToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tt.token)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
			if !errors.Is(err, ErrInvalidToken) && !errors.Is(err, ErrNoToken) {
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
	if n := canaryHits.Load(); n != 0 {
		t.Errorf("canary server received %d requests; jku/x5u must never be fetched", n)
	}
	if _, err := v.Verify(context.Background(), good); err != nil {
		t.Errorf("the untampered token: %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
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
			var before, after runtime.MemStats
			const runs = 50
			runtime.ReadMemStats(&before)
			for range runs {
				v.Verify(ctx, tt.token)
			}
			runtime.ReadMemStats(&after)
			if perRun := (after.TotalAlloc - before.TotalAlloc) / runs; perRun > tt.maxBytes {
				t.Errorf("%d bytes allocated per Verify, want at most %d", perRun, tt.maxBytes)
			}
		})
	}
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
