package resource

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/resource/resourcetest"
)

// Each benchmark times raw signature checks (SHA-256 + RSA PKCS #1 v1.5, or
// Ed25519) over the same signing input and b.N verifications, and reports
// verify-ns/primitive-ns as x-primitive. Both are measured in the same run on
// the same machine, so the ratio is comparable across machines. Uncached
// BenchmarkVerify interleaves the two; the cached cases and the parallel
// benchmark run the baseline first, capped at primitiveCap.

const primitiveCap = 20000

type benchCase struct {
	alg    string
	cached bool
}

func (c benchCase) name() string {
	if c.cached {
		return c.alg + "/cached"
	}
	return c.alg + "/uncached"
}

var benchCases = []benchCase{
	{resourcetest.RS256, false}, {resourcetest.EdDSA, false},
	{resourcetest.RS256, true}, {resourcetest.EdDSA, true},
}

func benchSetup(b *testing.B, c benchCase) (*Verifier, string, func()) {
	b.Helper()
	iss := resourcetest.Start()
	b.Cleanup(iss.Close)
	v := newVerifier(b, iss, func(cfg *Config) {
		if !c.cached {
			cfg.CacheSize = -1 // every Verify checks the signature
		}
	})
	token := iss.Token(resourcetest.WithAlg(c.alg))
	if _, err := v.Verify(context.Background(), token); err != nil {
		b.Fatal(err)
	}
	return v, token, primitive(b, iss.Current(c.alg), token)
}

// primitive returns one raw signature check of token with k.
func primitive(b *testing.B, k *resourcetest.Key, token string) func() {
	i := strings.LastIndexByte(token, '.')
	input := []byte(token[:i])
	sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	switch pub := k.Public().(type) {
	case *rsa.PublicKey:
		return func() {
			sum := sha256.Sum256(input)
			if rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) != nil {
				panic("bad signature")
			}
		}
	case ed25519.PublicKey:
		return func() {
			if !ed25519.Verify(pub, input, sig) {
				panic("bad signature")
			}
		}
	}
	b.Fatalf("unsupported key %T", k.Public())
	return nil
}

func report(b *testing.B, primitiveNs float64) {
	verifyNs := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(primitiveNs, "primitive-ns/op")
	b.ReportMetric(verifyNs/primitiveNs, "x-primitive")
}

func BenchmarkVerify(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name(), func(b *testing.B) {
			v, token, prim := benchSetup(b, c)
			ctx := context.Background()
			verify := func() {
				if _, err := v.Verify(ctx, token); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			if c.cached {
				report(b, cachedRun(b, verify, prim))
				return
			}
			report(b, interleaved(b, verify, prim))
		})
	}
}

// interleaved runs b.N of verify and of prim in alternating chunks, timing
// prim with the benchmark timer stopped, and returns prim's ns/op. On a
// shared machine the load drifts; back-to-back halves would measure the
// drift, chunks of 16 measure both under the same load.
func interleaved(b *testing.B, verify, prim func()) float64 {
	const chunk = 16
	var primDur time.Duration
	for done := 0; done < b.N; {
		n := min(chunk, b.N-done)
		b.StopTimer()
		start := time.Now()
		for range n {
			prim()
		}
		primDur += time.Since(start)
		b.StartTimer()
		for range n {
			verify()
		}
		done += n
	}
	b.StopTimer()
	return float64(primDur.Nanoseconds()) / float64(b.N)
}

// cachedRun times b.N cached verifications after primitiveCap raw checks: a
// cached Verify is so cheap that b.N signature checks would take minutes.
func cachedRun(b *testing.B, verify, prim func()) float64 {
	b.StopTimer()
	primN := min(b.N, primitiveCap)
	start := time.Now()
	for range primN {
		prim()
	}
	primitiveNs := float64(time.Since(start).Nanoseconds()) / float64(primN)
	b.StartTimer()
	for range b.N {
		verify()
	}
	b.StopTimer()
	return primitiveNs
}

func BenchmarkVerifyParallel(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name(), func(b *testing.B) {
			v, token, prim := benchSetup(b, c)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			b.StopTimer()
			// The baseline runs on as many goroutines as RunParallel uses.
			procs := runtime.GOMAXPROCS(0)
			primN := min(b.N, primitiveCap)
			start := time.Now()
			var wg sync.WaitGroup
			for p := range procs {
				n := primN / procs
				if p < primN%procs {
					n++
				}
				wg.Go(func() {
					for range n {
						prim()
					}
				})
			}
			wg.Wait()
			primitiveNs := float64(time.Since(start).Nanoseconds()) / float64(primN)
			b.StartTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := v.Verify(ctx, token); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			report(b, primitiveNs)
		})
	}
}
