package keys

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

// benchPayload is a typical access-token claims set (RFC 9068 §2.2).
var benchPayload = []byte(`{"iss":"https://rotor.example","sub":"8f14e45f-ceea-467f-a0e6-0a1e7b0d4f3c","aud":"schedules","exp":1893456900,"iat":1893456000,"jti":"6c1f3b8e2a9d4c7e","client_id":"web","scope":"schedules:read schedules:write"}`)

// BenchmarkSign measures SigningKey.Sign against the bare signature
// primitive over the same signing input, b.N of each in the same benchmark,
// so that the ratio (x-primitive) is what Rotor adds: base64url and one
// buffer.
func BenchmarkSign(b *testing.B) {
	for _, alg := range []Alg{EdDSA, RS256} {
		b.Run(string(alg), func(b *testing.B) {
			rec := withState(testKey(b, alg, 0), StateCurrent, t0, t0, time.Time{}, time.Time{})
			s, err := NewSnapshot([]Record{rec}, mustKEKs(b, testKEK1), SnapshotOptions{Now: t0})
			if err != nil {
				b.Fatal(err)
			}
			k, _ := s.Signer(alg)
			input := []byte(string(k.prefix) + base64.RawURLEncoding.EncodeToString(benchPayload))
			primitive := func() {
				if k.priv.ed != nil {
					_ = ed25519.Sign(*k.priv.ed, input)
					return
				}
				d := sha256.Sum256(input)
				if _, err := rsa.SignPKCS1v15(nil, k.priv.rsa, crypto.SHA256, d[:]); err != nil {
					b.Fatal(err)
				}
			}

			// Interleave the two in short chunks, timing the primitive
			// with the benchmark timer stopped: on a shared machine the
			// load drifts, and back-to-back halves would measure it.
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
					if _, err := k.Sign(benchPayload); err != nil {
						b.Fatal(err)
					}
				}
				done += n
			}
			b.StopTimer()
			signNs := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			primNs := float64(primDur.Nanoseconds()) / float64(b.N)
			b.ReportMetric(signNs/primNs, "x-primitive")
			b.ReportMetric(primNs, "primitive-ns/op")
		})
	}
}

// BenchmarkAppendSign is Sign into a reused buffer, as a token endpoint
// with a pooled buffer would call it.
func BenchmarkAppendSign(b *testing.B) {
	for _, alg := range []Alg{EdDSA, RS256} {
		b.Run(string(alg), func(b *testing.B) {
			rec := withState(testKey(b, alg, 0), StateCurrent, t0, t0, time.Time{}, time.Time{})
			s, err := NewSnapshot([]Record{rec}, mustKEKs(b, testKEK1), SnapshotOptions{Now: t0})
			if err != nil {
				b.Fatal(err)
			}
			k, _ := s.Signer(alg)
			buf := make([]byte, 0, 1024)
			b.ReportAllocs()
			for b.Loop() {
				if buf, err = k.AppendSign(buf[:0], benchPayload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify is Snapshot.Verify, the introspection endpoint's check,
// against the bare signature check over the same signing input, interleaved
// as in BenchmarkSign, so that x-primitive is what Rotor adds.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []Alg{EdDSA, RS256} {
		b.Run(string(alg), func(b *testing.B) {
			rec := withState(testKey(b, alg, 0), StateCurrent, t0, t0, time.Time{}, time.Time{})
			s, err := NewSnapshot([]Record{rec}, mustKEKs(b, testKEK1), SnapshotOptions{Now: t0})
			if err != nil {
				b.Fatal(err)
			}
			k, _ := s.Signer(alg)
			tok, err := k.Sign(benchPayload)
			if err != nil {
				b.Fatal(err)
			}
			dot := strings.LastIndexByte(tok, '.')
			input := []byte(tok[:dot])
			sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
			if err != nil {
				b.Fatal(err)
			}
			primitive := func() {
				switch pub := k.Public().(type) {
				case ed25519.PublicKey:
					if !ed25519.Verify(pub, input, sig) {
						b.Fatal("bad signature")
					}
				case *rsa.PublicKey:
					d := sha256.Sum256(input)
					if rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig) != nil {
						b.Fatal("bad signature")
					}
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
					if _, _, err := s.Verify(tok, t0); err != nil {
						b.Fatal(err)
					}
				}
				done += n
			}
			b.StopTimer()
			verifyNs := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			primNs := float64(primDur.Nanoseconds()) / float64(b.N)
			b.ReportMetric(verifyNs/primNs, "x-primitive")
			b.ReportMetric(primNs, "primitive-ns/op")
		})
	}
}
