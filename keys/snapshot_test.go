package keys

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/rotor-idp/rotor/internal/jws"
	"github.com/rotor-idp/rotor/internal/jwstest"
)

// testRing is a ring with every state in both lanes, as of now = t0+30d.
type testRing struct {
	now                                    time.Time
	opt                                    SnapshotOptions
	edCur, edNext, edRet, edExpired, edRev Record
	rsCur, rsNext                          Record
	records                                []Record
	keks                                   *KEKSet
}

func newTestRing(t testing.TB) testRing {
	t.Helper()
	now := t0.Add(30 * 24 * time.Hour)
	r := testRing{now: now, keks: mustKEKs(t, testKEK1)}
	r.opt = SnapshotOptions{Now: now, RetireAfter: 2 * time.Hour, Signing: []Alg{EdDSA, RS256}}
	r.edCur = withState(testKey(t, EdDSA, 0), StateCurrent, now.Add(-3*24*time.Hour), now.Add(-2*24*time.Hour), time.Time{}, time.Time{})
	r.edNext = withState(testKey(t, EdDSA, 1), StateNext, now.Add(-24*time.Hour), time.Time{}, time.Time{}, time.Time{})
	r.edRet = withState(testKey(t, EdDSA, 2), StateRetired, now.Add(-9*24*time.Hour), now.Add(-8*24*time.Hour), now.Add(-time.Hour), time.Time{})
	r.edExpired = withState(testKey(t, EdDSA, 3), StateRetired, now.Add(-9*24*time.Hour), now.Add(-8*24*time.Hour), now.Add(-2*time.Hour), time.Time{})
	r.edRev = withState(testKey(t, EdDSA, 4), StateRevoked, now.Add(-9*24*time.Hour), time.Time{}, time.Time{}, now.Add(-time.Minute))
	r.rsCur = withState(testKey(t, RS256, 0), StateCurrent, now.Add(-3*24*time.Hour), now.Add(-2*24*time.Hour), time.Time{}, time.Time{})
	r.rsNext = withState(testKey(t, RS256, 1), StateNext, now.Add(-24*time.Hour), time.Time{}, time.Time{}, time.Time{})
	r.records = []Record{r.edCur, r.edNext, r.edRet, r.edExpired, r.edRev, r.rsCur, r.rsNext}
	return r
}

func (r testRing) build(t *testing.T) *Snapshot {
	t.Helper()
	s, err := NewSnapshot(r.records, r.keks, r.opt)
	if err != nil {
		t.Fatalf("NewSnapshot: %v", err)
	}
	return s
}

func TestSnapshotJWKS(t *testing.T) {
	r := newTestRing(t)
	s := r.build(t)
	if !s.Loaded() || s.Version() != 0 {
		t.Errorf("Loaded = %t, Version = %d", s.Loaded(), s.Version())
	}
	body, etag := s.JWKS()

	// Published: next, current and live retired keys, by lane (EdDSA <
	// RS256), then current, next, retired. Not revoked, not expired.
	wantKIDs := []string{r.edCur.KID, r.edNext.KID, r.edRet.KID, r.rsCur.KID, r.rsNext.KID}
	if diff := cmp.Diff(wantKIDs, s.KIDs()); diff != "" {
		t.Errorf("KIDs (-want +got):\n%s", diff)
	}
	var want bytes.Buffer
	want.WriteString(`{"keys":[`)
	for i, rec := range []Record{r.edCur, r.edNext, r.edRet, r.rsCur, r.rsNext} {
		if i > 0 {
			want.WriteByte(',')
		}
		want.Write(rec.PublicJWK)
	}
	want.WriteString(`]}`)
	if diff := cmp.Diff(want.String(), string(body)); diff != "" {
		t.Errorf("JWKS (-want +got):\n%s", diff)
	}

	set, err := jwk.Parse(body)
	if err != nil {
		t.Fatalf("jwk.Parse(JWKS): %v", err)
	}
	if set.Len() != len(wantKIDs) {
		t.Errorf("JWKS has %d keys", set.Len())
	}
	for i := range set.Len() {
		k, _ := set.Key(i)
		if priv, err := jwk.IsPrivateKey(k); err != nil || priv {
			t.Errorf("key %d is private (%v, %v)", i, priv, err)
		}
	}
	for _, banned := range []string{`"d"`, `"p"`, `"q"`, `"dp"`, `"dq"`, `"qi"`} {
		if bytes.Contains(body, []byte(banned)) {
			t.Errorf("JWKS contains private member %s", banned)
		}
	}
	if !regexp.MustCompile(`^"[A-Za-z0-9_-]{24}"$`).MatchString(etag) {
		t.Errorf("ETag %s is not a strong quoted validator", etag)
	}

	t.Run("deterministic whatever the store's order", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for range 10 {
			recs := slices.Clone(r.records)
			rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
			s2, err := NewSnapshot(recs, r.keks, r.opt)
			if err != nil {
				t.Fatal(err)
			}
			b2, e2 := s2.JWKS()
			if !bytes.Equal(body, b2) || etag != e2 {
				t.Fatalf("JWKS differs for another record order:\n%s\n%s", body, b2)
			}
		}
	})
	t.Run("deterministic whatever the store did to the JSON", func(t *testing.T) {
		recs := slices.Clone(r.records)
		for i := range recs {
			var m map[string]any
			_ = json.Unmarshal(recs[i].PublicJWK, &m)
			recs[i].PublicJWK, _ = json.MarshalIndent(m, "", "  ")
		}
		s2, err := NewSnapshot(recs, r.keks, r.opt)
		if err != nil {
			t.Fatal(err)
		}
		if b2, e2 := s2.JWKS(); !bytes.Equal(body, b2) || etag != e2 {
			t.Fatalf("JWKS differs after reformatting:\n%s\n%s", body, b2)
		}
	})

	changes := []struct {
		name string
		edit func(r *testRing)
	}{
		{"next revoked", func(r *testRing) { r.records[1] = pRev(r.records[1], r.now) }},
		{"rotation", func(r *testRing) {
			r.records[0] = retired(r.records[0], r.now)
			r.records[1] = promoted(r.records[1], r.now)
		}},
		{"retired key expires", func(r *testRing) { r.opt.Now = r.now.Add(time.Hour) }},
		{"key added", func(r *testRing) {
			r.records = append(r.records, withState(testKey(t, EdDSA, 5), StateNext, r.now, time.Time{}, time.Time{}, time.Time{}))
		}},
	}
	for _, c := range changes {
		t.Run("ETag changes: "+c.name, func(t *testing.T) {
			r2 := newTestRing(t)
			c.edit(&r2)
			b2, e2 := r2.build(t).JWKS()
			if bytes.Equal(body, b2) || e2 == etag {
				t.Errorf("JWKS and ETag unchanged")
			}
		})
	}
	t.Run("retired key leaves the JWKS when it expires", func(t *testing.T) {
		r2 := newTestRing(t)
		r2.opt.Now = r2.edRet.RetiredAt.Add(r2.opt.RetireAfter)
		if got := r2.build(t).KIDs(); slices.Contains(got, r2.edRet.KID) {
			t.Errorf("expired retired key still published: %v", got)
		}
	})
}

func TestEmptySnapshot(t *testing.T) {
	s := emptySnapshot()
	body, etag := s.JWKS()
	if s.Loaded() || s.Ready() || string(body) != `{"keys":[]}` || etag == "" {
		t.Errorf("empty snapshot: loaded=%t ready=%t body=%s etag=%s", s.Loaded(), s.Ready(), body, etag)
	}
	if _, ok := s.Signer(EdDSA); ok {
		t.Error("empty snapshot has a signer")
	}
	loaded, err := NewSnapshot(nil, mustKEKs(t, testKEK1), SnapshotOptions{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := loaded.JWKS(); !loaded.Loaded() || string(b) != `{"keys":[]}` {
		t.Errorf("snapshot of an empty ring: loaded=%t body=%s", loaded.Loaded(), b)
	}
}

func TestSnapshotSigners(t *testing.T) {
	r := newTestRing(t)
	s := r.build(t)
	for _, c := range []struct {
		alg Alg
		kid string
	}{{EdDSA, r.edCur.KID}, {RS256, r.rsCur.KID}} {
		k, ok := s.Signer(c.alg)
		if !ok || k.KID != c.kid || k.Alg != c.alg {
			t.Errorf("Signer(%s) = %v, %t; want %s", c.alg, k, ok, c.kid)
		}
	}
	if !s.Ready(EdDSA, RS256) {
		t.Error("not Ready")
	}

	t.Run("only signing lanes are opened", func(t *testing.T) {
		r2 := newTestRing(t)
		r2.opt.Signing = []Alg{EdDSA}
		s := r2.build(t)
		if _, ok := s.Signer(RS256); ok {
			t.Error("RS256 signer although the lane is not enabled")
		}
		if s.Ready(EdDSA, RS256) || !s.Ready(EdDSA) {
			t.Error("Ready is wrong")
		}
		if !slices.Contains(s.KIDs(), r2.rsCur.KID) {
			t.Error("keys of a lane that is not enabled must still be published")
		}
	})
	t.Run("wrong KEK fails on the current key", func(t *testing.T) {
		r2 := newTestRing(t)
		r2.keks = mustKEKs(t, testKEK3)
		_, err := NewSnapshot(r2.records, r2.keks, r2.opt)
		want := `keys: cannot decrypt signing key ` + r2.edCur.KID + `: key-encryption key "k1" does not match, or the sealed key was altered (wrong --key-encryption-keys?)`
		if err == nil || err.Error() != want || !errors.Is(err, ErrDecrypt) {
			t.Fatalf("error = %v\nwant %s", err, want)
		}
	})
	t.Run("a next key that cannot be opened is published with a warning", func(t *testing.T) {
		r2 := newTestRing(t)
		two := mustKEKs(t, testKEK1+","+testKEK2)
		der, err := two.open(r2.edNext.KID, "k1", r2.edNext.Sealed)
		if err != nil {
			t.Fatal(err)
		}
		r2.records[1].Sealed, _ = mustKEKs(t, testKEK2).sealOrFail(t, r2.edNext.KID, der)
		r2.records[1].KEKID = "k2"
		var warnings []error
		s, err := buildSnapshot(r2.records, r2.keks, r2.opt, nil, func(err error) { warnings = append(warnings, err) })
		if err != nil {
			t.Fatal(err)
		}
		if len(warnings) != 1 || !errors.Is(warnings[0], ErrDecrypt) || !strings.Contains(warnings[0].Error(), r2.edNext.KID) {
			t.Errorf("warnings = %v", warnings)
		}
		if !slices.Contains(s.KIDs(), r2.edNext.KID) {
			t.Error("next key not published")
		}
	})
}

func (k *KEKSet) sealOrFail(t *testing.T, kid string, pt []byte) ([]byte, string) {
	t.Helper()
	sealed, id, err := k.seal(kid, pt)
	if err != nil {
		t.Fatal(err)
	}
	return sealed, id
}

func TestSnapshotReuse(t *testing.T) {
	r := newTestRing(t)
	first, err := buildSnapshot(r.records, r.keks, r.opt, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	same, err := buildSnapshot(slices.Clone(r.records), r.keks, r.opt, first, nil)
	if err != nil {
		t.Fatal(err)
	}
	if same != first {
		t.Error("an unchanged ring built a new snapshot")
	}

	// After a rotation the promoted key was opened as next already: the
	// new snapshot must not need to decrypt anything, so a KEK set that
	// opens nothing still builds it.
	recs := slices.Clone(r.records)
	recs[0] = retired(recs[0], r.now)
	recs[1] = promoted(recs[1], r.now)
	rotated, err := buildSnapshot(recs, mustKEKs(t, testKEK4), r.opt, first, nil)
	if err != nil {
		t.Fatalf("build after rotation needed a decryption: %v", err)
	}
	if rotated == first {
		t.Fatal("rotation did not build a new snapshot")
	}
	got, _ := rotated.Signer(EdDSA)
	if got.KID != r.edNext.KID || got != first.opened[r.edNext.KID] {
		t.Errorf("Signer(EdDSA) = %v, want the already opened %s", got, r.edNext.KID)
	}
	if rs, _ := rotated.Signer(RS256); rs != first.signers[RS256] {
		t.Error("unchanged RS256 signer was not reused")
	}
}

// forge signs an arbitrary header and payload with priv, the way an attacker
// or a buggy issuer would.
func forge(t *testing.T, priv crypto.Signer, header, payload string) string {
	t.Helper()
	input := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	var sig []byte
	switch p := priv.(type) {
	case ed25519.PrivateKey:
		sig = ed25519.Sign(p, []byte(input))
	case *rsa.PrivateKey:
		d := sha256.Sum256([]byte(input))
		var err error
		if sig, err = rsa.SignPKCS1v15(nil, p, crypto.SHA256, d[:]); err != nil {
			t.Fatal(err)
		}
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func privOf(t *testing.T, keks *KEKSet, r Record) crypto.Signer {
	t.Helper()
	pub, _, err := parsePublicJWK(r)
	if err != nil {
		t.Fatal(err)
	}
	p, err := openPrivate(r, keks, pub)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVerify(t *testing.T) {
	r := newTestRing(t)
	s := r.build(t)
	const payload = `{"sub":"u1"}`
	ed := privOf(t, r.keks, r.edCur)
	rs := privOf(t, r.keks, r.rsCur)
	hdr := func(alg Alg, kid, typ string) string {
		return `{"alg":"` + string(alg) + `","kid":"` + kid + `","typ":"` + typ + `"}`
	}
	good := forge(t, ed, hdr(EdDSA, r.edCur.KID, "at+jwt"), payload)
	p1, p2, _ := strings.Cut(good, ".")
	p2, p3, _ := strings.Cut(p2, ".")
	edPub := []byte(r.edCur.PublicJWK)
	hmacToken := func() string {
		input := base64.RawURLEncoding.EncodeToString([]byte(hdr("HS256", r.edCur.KID, "at+jwt"))) + "." + p2
		m := hmac.New(sha256.New, edPub)
		m.Write([]byte(input))
		return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}()
	flipChar := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}

	// want is a jws reason, or nil for a keys-only reason given in msg.
	tests := []struct {
		name    string
		token   string
		now     time.Time
		wantKID string
		want    error
		msg     string // "" and want nil for success
	}{
		{name: "EdDSA current", token: good, wantKID: r.edCur.KID},
		{name: "RS256 current", token: forge(t, rs, hdr(RS256, r.rsCur.KID, "at+jwt"), payload), wantKID: r.rsCur.KID},
		{name: "next key", token: forge(t, privOf(t, r.keks, r.edNext), hdr(EdDSA, r.edNext.KID, "at+jwt"), payload), wantKID: r.edNext.KID},
		{name: "retired key within its window", token: forge(t, privOf(t, r.keks, r.edRet), hdr(EdDSA, r.edRet.KID, "at+jwt"), payload), wantKID: r.edRet.KID},
		{name: "typ with application/ prefix, any case", token: forge(t, ed, hdr(EdDSA, r.edCur.KID, "Application/AT+JWT"), payload), wantKID: r.edCur.KID},

		{name: "retired key past its window", token: forge(t, privOf(t, r.keks, r.edRet), hdr(EdDSA, r.edRet.KID, "at+jwt"), payload), now: r.edRet.RetiredAt.Add(2 * time.Hour),
			msg: "key " + r.edRet.KID + " was retired and its tokens have expired", wantKID: r.edRet.KID},
		{name: "expired retired key is not published", token: forge(t, privOf(t, r.keks, r.edExpired), hdr(EdDSA, r.edExpired.KID, "at+jwt"), payload), want: jws.ErrUnknownKID},
		{name: "revoked key", token: forge(t, privOf(t, r.keks, r.edRev), hdr(EdDSA, r.edRev.KID, "at+jwt"), payload), want: jws.ErrUnknownKID},
		{name: "typ JWT", token: forge(t, ed, hdr(EdDSA, r.edCur.KID, "JWT"), payload), want: jws.ErrTyp},
		{name: "no typ", token: forge(t, ed, `{"alg":"EdDSA","kid":"`+r.edCur.KID+`"}`, payload), want: jws.ErrTyp},
		{name: "no kid", token: forge(t, ed, `{"alg":"EdDSA","typ":"at+jwt"}`, payload), want: jws.ErrNoKID},
		{name: "unknown kid", token: forge(t, ed, hdr(EdDSA, "nope", "at+jwt"), payload), want: jws.ErrUnknownKID},
		{name: "alg of the other lane", token: forge(t, ed, hdr(RS256, r.edCur.KID, "at+jwt"), payload), want: jws.ErrKeyMismatch, wantKID: r.edCur.KID},
		{name: "RS256 kid with EdDSA alg", token: forge(t, ed, hdr(EdDSA, r.rsCur.KID, "at+jwt"), payload), want: jws.ErrKeyMismatch, wantKID: r.rsCur.KID},
		{name: "alg none", token: base64.RawURLEncoding.EncodeToString([]byte(hdr("none", r.edCur.KID, "at+jwt"))) + "." + p2 + ".", want: jws.ErrMalformed},
		{name: "alg none with a signature", token: base64.RawURLEncoding.EncodeToString([]byte(hdr("none", r.edCur.KID, "at+jwt"))) + "." + p2 + "." + p3, want: jws.ErrAlg},
		{name: "HS256 keyed with the public JWK", token: hmacToken, want: jws.ErrAlg},
		{name: "header member names are case-sensitive", token: forge(t, ed, `{"ALG":"EdDSA","KID":"`+r.edCur.KID+`","TYP":"at+jwt"}`, payload), want: jws.ErrAlg},
		{name: "crit", token: forge(t, ed, `{"alg":"EdDSA","kid":"`+r.edCur.KID+`","typ":"at+jwt","crit":["exp"],"exp":1}`, payload), want: jws.ErrCrit},
		{name: "key signed by another key of the lane", token: forge(t, privOf(t, r.keks, r.edNext), hdr(EdDSA, r.edCur.KID, "at+jwt"), payload), want: jws.ErrSignature, wantKID: r.edCur.KID},
		{name: "header bit flip", token: flipChar(p1, 5) + "." + p2 + "." + p3, want: jws.ErrHeader},
		{name: "payload bit flip", token: p1 + "." + flipChar(p2, 3) + "." + p3, want: jws.ErrSignature, wantKID: r.edCur.KID},
		{name: "signature bit flip", token: p1 + "." + p2 + "." + flipChar(p3, 10), want: jws.ErrSignature, wantKID: r.edCur.KID},
		{name: "truncated signature", token: p1 + "." + p2 + "." + p3[:len(p3)-2], want: jws.ErrSignature, wantKID: r.edCur.KID},
		{name: "padded signature", token: good + "==", want: jws.ErrMalformed},
		{name: "two parts", token: p1 + "." + p2, want: jws.ErrMalformed},
		{name: "four parts", token: good + ".x", want: jws.ErrMalformed},
		{name: "JSON serialization", token: `{"payload":"` + p2 + `","protected":"` + p1 + `","signature":"` + p3 + `"}`, want: jws.ErrMalformed},
		{name: "header not JSON", token: base64.RawURLEncoding.EncodeToString([]byte("[]")) + "." + p2 + "." + p3, want: jws.ErrHeader},
		{name: "too long", token: good + strings.Repeat("A", jws.MaxTokenSize), want: jws.ErrTooLarge},
		{name: "empty", token: "", want: jws.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = r.now
			}
			got, kid, err := s.Verify(tt.token, now)
			if kid != tt.wantKID {
				t.Errorf("kid = %q, want %q", kid, tt.wantKID)
			}
			if tt.want == nil && tt.msg == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if string(got) != payload {
					t.Errorf("payload = %s, want %s", got, payload)
				}
				return
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify error = %v, want ErrInvalidToken", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Verify error = %v, want %v", err, tt.want)
			}
			if tt.msg != "" && err.Error() != ErrInvalidToken.Error()+": "+tt.msg {
				t.Errorf("Verify error = %q, want %q", err, tt.msg)
			}
			if got != nil {
				t.Errorf("Verify returned a payload with an error")
			}
		})
	}
}

// attackTarget is the jwstest view of the test ring: its current keys are
// trusted, two keys outside it are the attacker's.
func attackTarget(t testing.TB, r testRing) jwstest.Target {
	key := func(rec Record) *jwstest.Key {
		pub, _, err := parsePublicJWK(rec)
		if err != nil {
			t.Fatal(err)
		}
		priv, err := openPrivate(rec, r.keks, pub)
		if err != nil {
			t.Fatal(err)
		}
		return &jwstest.Key{KID: rec.KID, Alg: string(rec.Alg), Signer: priv}
	}
	return jwstest.Target{
		RS256:         key(r.rsCur),
		EdDSA:         key(r.edCur),
		AttackerRS256: key(testKey(t, RS256, 2)),
		AttackerEdDSA: key(testKey(t, EdDSA, 5)),
		Claims: func() map[string]any {
			var jti [12]byte
			_, _ = crand.Read(jti[:])
			return map[string]any{
				"iss": "https://rotor.example", "aud": "schedules", "sub": "u1", "client_id": "web",
				"exp": r.now.Add(15 * time.Minute).Unix(), "iat": r.now.Unix(),
				"jti": base64.RawURLEncoding.EncodeToString(jti[:]),
			}
		},
	}
}

// TestVerifyAttacks runs the attack catalogue that every verifier in Rotor
// shares (internal/jwstest). Snapshot.Verify leaves the claims' values to
// its caller, so a token whose JWS is sound and only a claim is wrong must
// verify; every other token must fail for the catalogue's reason.
func TestVerifyAttacks(t *testing.T) {
	r := newTestRing(t)
	s := r.build(t)
	cat := jwstest.Attacks(t, attackTarget(t, r))
	for _, tc := range cat.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			payload, kid, err := s.Verify(tc.Token, r.now)
			if tc.Want == nil {
				if err != nil || kid != r.rsCur.KID || len(payload) == 0 {
					t.Fatalf("Verify = %q, %q, %v; want the payload (the claim check %q is the caller's)", payload, kid, err, tc.Claim)
				}
				return
			}
			if !errors.Is(err, ErrInvalidToken) || !errors.Is(err, tc.Want) {
				t.Fatalf("Verify error = %v, want ErrInvalidToken and %v", err, tc.Want)
			}
			if payload != nil {
				t.Errorf("Verify returned a payload with an error")
			}
		})
	}
	if n := cat.CanaryHits(); n != 0 {
		t.Errorf("canary server received %d requests; jku/x5u must never be fetched", n)
	}
}

// FuzzVerify feeds arbitrary tokens to Snapshot.Verify, seeded with the
// attack catalogue: it must never panic, and must accept only tokens signed
// by a published key.
func FuzzVerify(f *testing.F) {
	r := newTestRing(f)
	s, err := NewSnapshot(r.records, r.keks, r.opt)
	if err != nil {
		f.Fatal(err)
	}
	tg := attackTarget(f, r)
	signed := map[string]bool{
		jwstest.Sign(tg.RS256, map[string]any{"alg": "RS256", "kid": tg.RS256.KID, "typ": "at+jwt"}, tg.Claims()): true,
		jwstest.Sign(tg.EdDSA, map[string]any{"alg": "EdDSA", "kid": tg.EdDSA.KID, "typ": "at+jwt"}, tg.Claims()): true,
	}
	for tok := range signed {
		f.Add(tok)
	}
	for _, c := range jwstest.Attacks(f, tg).Cases {
		f.Add(c.Token)
		if c.Want == nil {
			signed[c.Token] = true // sound JWS, a claim the caller checks
		}
	}
	f.Fuzz(func(t *testing.T, token string) {
		payload, kid, err := s.Verify(token, r.now)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) || payload != nil {
				t.Fatalf("Verify = %q, %v", payload, err)
			}
			return
		}
		if !signed[token] || (kid != tg.RS256.KID && kid != tg.EdDSA.KID) {
			t.Fatalf("accepted a token no published key signed: %q", token)
		}
	})
}
