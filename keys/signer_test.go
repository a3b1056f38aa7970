package keys

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
)

func decodeSeg(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSign(t *testing.T) {
	r := newTestRing(t)
	s := r.build(t)
	payload := []byte(`{"iss":"https://rotor.example","sub":"u1","exp":1893456000}`)
	for _, tt := range []struct {
		alg   Alg
		jwa   jwa.SignatureAlgorithm
		check func(pub crypto.PublicKey, input, sig []byte) bool
	}{
		{EdDSA, jwa.EdDSA(), func(pub crypto.PublicKey, input, sig []byte) bool {
			return ed25519.Verify(pub.(ed25519.PublicKey), input, sig)
		}},
		{RS256, jwa.RS256(), func(pub crypto.PublicKey, input, sig []byte) bool {
			d := sha256.Sum256(input)
			return rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, d[:], sig) == nil
		}},
	} {
		t.Run(string(tt.alg), func(t *testing.T) {
			k, _ := s.Signer(tt.alg)
			tok, err := k.Sign(payload)
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(tok, ".")
			if len(parts) != 3 {
				t.Fatalf("token has %d parts", len(parts))
			}
			wantHeader := `{"alg":"` + string(tt.alg) + `","kid":"` + k.KID + `","typ":"at+jwt"}`
			if diff := cmp.Diff(wantHeader, string(decodeSeg(t, parts[0]))); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(string(payload), string(decodeSeg(t, parts[1]))); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
			if strings.ContainsAny(tok, "=+/") {
				t.Error("token is not unpadded base64url")
			}

			// jwx, as a resource server would use it.
			got, err := jws.Verify([]byte(tok), jws.WithKey(tt.jwa, k.Public()))
			if err != nil {
				t.Fatalf("jws.Verify: %v", err)
			}
			if !bytes.Equal(got, payload) {
				t.Error("jws.Verify returned another payload")
			}
			// The primitive itself.
			if !tt.check(k.Public(), []byte(parts[0]+"."+parts[1]), decodeSeg(t, parts[2])) {
				t.Error("signature does not verify with crypto directly")
			}
			// Snapshot.Verify.
			gotPayload, kid, err := s.Verify(tok, r.now)
			if err != nil || kid != k.KID || !bytes.Equal(gotPayload, payload) {
				t.Errorf("Verify = %s, %s, %v", gotPayload, kid, err)
			}

			// Both schemes are deterministic, so AppendSign must give the
			// same token after whatever dst held.
			buf, err := k.AppendSign([]byte("prefix:"), payload)
			if err != nil {
				t.Fatal(err)
			}
			if string(buf) != "prefix:"+tok {
				t.Errorf("AppendSign = %s", buf)
			}
			reused, err := k.AppendSign(buf[:0], payload)
			if err != nil || string(reused) != tok {
				t.Errorf("AppendSign into a reused buffer = %s, %v", reused, err)
			}
		})
	}
}

func TestSigningKeyRedaction(t *testing.T) {
	r := newTestRing(t)
	s := r.build(t)
	for _, alg := range []Alg{EdDSA, RS256} {
		t.Run(string(alg), func(t *testing.T) {
			k, _ := s.Signer(alg)
			var secrets [][]byte
			switch p := privOf(t, r.keks, map[Alg]Record{EdDSA: r.edCur, RS256: r.rsCur}[alg]).(type) {
			case ed25519.PrivateKey:
				secrets = append(secrets, p.Seed())
			case *rsa.PrivateKey:
				secrets = append(secrets, p.D.Bytes(), p.Primes[0].Bytes(), p.Primes[1].Bytes(), p.Precomputed.Dp.Bytes())
			}
			assertRedacted(t, k, secrets...)
			assertRedacted(t, *k, secrets...)
			assertRedacted(t, k.priv, secrets...)
			assertRedacted(t, s, secrets...)
			assertRedacted(t, *s, secrets...)
			if got, want := k.String(), "SigningKey("+string(alg)+" "+k.KID+"; private key redacted)"; got != want {
				t.Errorf("String = %q, want %q", got, want)
			}
			j, _ := json.Marshal(k)
			if diff := cmp.Diff(`{"kid":"`+k.KID+`","alg":"`+string(alg)+`"}`, string(j)); diff != "" {
				t.Errorf("JSON (-want +got):\n%s", diff)
			}
		})
	}
}
