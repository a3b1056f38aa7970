package jws

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// BenchmarkVerify times Verify against the bare signature check over the
// same signing input, interleaved in chunks of 16 so that both see the same
// load, and reports the ratio as x-primitive: what the shared rules add.
func BenchmarkVerify(b *testing.B) {
	rs, ed, rsKey, edKey := keys(b)
	for _, c := range []struct {
		alg  string
		priv crypto.Signer
		key  *Key
	}{{RS256, rs, rsKey}, {EdDSA, ed, edKey}} {
		b.Run(c.alg, func(b *testing.B) {
			tok := sign(b, c.priv, `{"alg":"`+c.alg+`","kid":"k","typ":"at+jwt"}`, testClaims)
			find := func(string) (*Key, error) { return c.key, nil }
			dot := strings.LastIndexByte(tok, '.')
			input := []byte(tok[:dot])
			sig, _ := base64.RawURLEncoding.DecodeString(tok[dot+1:])
			primitive := func() {
				if c.alg == EdDSA {
					if !ed25519.Verify(c.key.ed, input, sig) {
						b.Fatal("bad signature")
					}
					return
				}
				sum := sha256.Sum256(input)
				if rsa.VerifyPKCS1v15(c.key.rsa, crypto.SHA256, sum[:], sig) != nil {
					b.Fatal("bad signature")
				}
			}
			const chunk = 16
			var primDur time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; {
				n := min(chunk, b.N-done)
				b.StopTimer()
				start := time.Now()
				for range n {
					primitive()
				}
				primDur += time.Since(start)
				b.StartTimer()
				for range n {
					if _, err := Verify(tok, nil, find); err != nil {
						b.Fatal(err)
					}
				}
				done += n
			}
			b.StopTimer()
			primNs := float64(primDur.Nanoseconds()) / float64(b.N)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/primNs, "x-primitive")
			b.ReportMetric(primNs, "primitive-ns/op")
		})
	}
}

// The steps of Verify around the signature, one by one.
func BenchmarkSteps(b *testing.B) {
	_, ed, _, _ := keys(b)
	tok := sign(b, ed, `{"alg":"EdDSA","kid":"NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs","typ":"at+jwt"}`, testClaims)
	p, _ := Split(tok)
	hdr, _ := base64.RawURLEncoding.DecodeString(p.Header)
	claims := []byte(testClaims)
	buf := make([]byte, 1024)
	b.Run("Split", func(b *testing.B) {
		for b.Loop() {
			_, _ = Split(tok)
		}
	})
	b.Run("Decode", func(b *testing.B) {
		for b.Loop() {
			_, _ = Decode(buf, p.Payload)
		}
	})
	b.Run("ParseHeader", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = ParseHeader(hdr)
		}
	})
	b.Run("parseClaims", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = parseClaims(claims)
		}
	})
}
