package keys

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/jws"
)

func TestSignJWT(t *testing.T) {
	r := newTestRing(t)
	s := r.build(t)
	for _, alg := range []Alg{EdDSA, RS256} {
		t.Run(string(alg), func(t *testing.T) {
			k, ok := s.Signer(alg)
			if !ok {
				t.Fatal("no signer")
			}
			const payload = `{"sub":"u1","aud":"web"}`
			tok, err := k.AppendSignJWT([]byte("prefix:"), []byte(payload))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(tok, []byte("prefix:")) {
				t.Fatal("AppendSignJWT did not append")
			}
			jwt := string(tok[len("prefix:"):])
			got, kid, err := s.VerifyJWT(jwt, r.now)
			if err != nil || kid != k.KID || string(got) != payload {
				t.Fatalf("VerifyJWT = %s, %s, %v; want the payload", got, kid, err)
			}
			// An ID token is not an access token, and the other way round.
			if _, _, err := s.Verify(jwt, r.now); err == nil {
				t.Error("Verify accepted a typ JWT token")
			}
			at, err := k.Sign([]byte(payload))
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.VerifyJWT(at, r.now); err == nil {
				t.Error("VerifyJWT accepted an access token")
			}
		})
	}
}

func TestVerifyJWT(t *testing.T) {
	r := newTestRing(t)
	s := r.build(t)
	const payload = `{"sub":"u1"}`
	ed := privOf(t, r.keks, r.edCur)
	hdr := func(alg Alg, kid, typ string) string {
		return `{"alg":"` + string(alg) + `","kid":"` + kid + `","typ":"` + typ + `"}`
	}
	good := forge(t, ed, hdr(EdDSA, r.edCur.KID, "JWT"), payload)
	p1, rest, _ := strings.Cut(good, ".")
	p2, p3, _ := strings.Cut(rest, ".")
	tests := []struct {
		name, token, wantErr string
		now                  time.Time
	}{
		{name: "good", token: good},
		{name: "RS256", token: forge(t, privOf(t, r.keks, r.rsCur), hdr(RS256, r.rsCur.KID, "JWT"), payload)},
		{name: "retired key within its window", token: forge(t, privOf(t, r.keks, r.edRet), hdr(EdDSA, r.edRet.KID, "JWT"), payload)},
		{name: "retired key past its window", token: forge(t, privOf(t, r.keks, r.edRet), hdr(EdDSA, r.edRet.KID, "JWT"), payload), now: r.edRet.RetiredAt.Add(2 * time.Hour), wantErr: "was retired"},
		{name: "revoked key", token: forge(t, privOf(t, r.keks, r.edRev), hdr(EdDSA, r.edRev.KID, "JWT"), payload), wantErr: "unknown kid"},
		{name: "typ at+jwt", token: forge(t, ed, hdr(EdDSA, r.edCur.KID, "at+jwt"), payload), wantErr: "typ"},
		{name: "typ in another case", token: forge(t, ed, hdr(EdDSA, r.edCur.KID, "jwt"), payload), wantErr: "typ"},
		{name: "no typ", token: forge(t, ed, `{"alg":"EdDSA","kid":"`+r.edCur.KID+`"}`, payload), wantErr: "typ"},
		{name: "alg of the other lane", token: forge(t, ed, hdr(RS256, r.edCur.KID, "JWT"), payload), wantErr: "key does not match alg"},
		{name: "alg none", token: p1[:0] + b64enc(hdr("none", r.edCur.KID, "JWT")) + "." + p2 + ".", wantErr: "not a compact JWS"},
		{name: "repeated member", token: forge(t, ed, `{"alg":"EdDSA","kid":"`+r.edCur.KID+`","typ":"at+jwt","typ":"JWT"}`, payload), wantErr: "malformed JOSE header"},
		{name: "crit", token: forge(t, ed, `{"alg":"EdDSA","kid":"`+r.edCur.KID+`","typ":"JWT","crit":["x"]}`, payload), wantErr: "crit"},
		{name: "jku is ignored: keys come from the ring", token: forge(t, ed, `{"alg":"EdDSA","kid":"`+r.edCur.KID+`","typ":"JWT","jku":"https://evil.example/jwks"}`, payload)},
		{name: "trailing data", token: b64enc(hdr(EdDSA, r.edCur.KID, "JWT")+"{}") + "." + p2 + "." + p3, wantErr: "header"},
		{name: "signed by another key", token: forge(t, privOf(t, r.keks, r.edNext), hdr(EdDSA, r.edCur.KID, "JWT"), payload), wantErr: "bad signature"},
		{name: "payload changed", token: p1 + "." + b64enc(`{"sub":"u2"}`) + "." + p3, wantErr: "bad signature"},
		{name: "two parts", token: p1 + "." + p2, wantErr: "not a compact JWS"},
		{name: "too long", token: good + strings.Repeat("A", jws.MaxTokenSize), wantErr: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = r.now
			}
			got, _, err := s.VerifyJWT(tt.token, now)
			if tt.wantErr == "" {
				if err != nil || string(got) != payload {
					t.Fatalf("VerifyJWT = %s, %v", got, err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("VerifyJWT error = %v, want ErrInvalidToken containing %q", err, tt.wantErr)
			}
		})
	}
}

func b64enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestDeriveKeys(t *testing.T) {
	a := mustKEKs(t, testKEK1+","+testKEK2)
	b := mustKEKs(t, testKEK2)
	ka, kb := a.DeriveKeys("label"), b.DeriveKeys("label")
	if len(ka) != 2 || len(kb) != 1 || len(ka[0]) != 32 {
		t.Fatalf("DeriveKeys lengths %d, %d", len(ka), len(kb))
	}
	if !bytes.Equal(ka[1], kb[0]) {
		t.Error("the same KEK derived different keys in two sets")
	}
	if bytes.Equal(ka[0], ka[1]) {
		t.Error("two KEKs derived the same key")
	}
	if other := a.DeriveKeys("other"); bytes.Equal(other[0], ka[0]) {
		t.Error("two labels derived the same key")
	}
	if again := a.DeriveKeys("label"); !bytes.Equal(again[0], ka[0]) {
		t.Error("DeriveKeys is not deterministic")
	}
	// A derived key is not the KEK.
	raw, err := decodeKEK(strings.TrimPrefix(testKEK1, "k1:"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(raw, ka[0]) {
		t.Error("DeriveKeys returned the KEK itself")
	}
	if (*KEKSet)(nil).DeriveKeys("x") != nil {
		t.Error("nil set derived keys")
	}
}
