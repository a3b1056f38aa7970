package resource

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rotor-idp/rotor/internal/dpoptest"
	"github.com/rotor-idp/rotor/resource/resourcetest"
)

// BenchmarkVerifyDPoP times VerifyRequest of a DPoP-bound token with a fresh
// proof (the proof's checks and the replay cache included) against two raw
// signature checks, the token's and the proof's, interleaved in the same run
// (x-two-primitives). With the token cache the token's signature is spared
// and the proof's is not. Proofs are made before the timer starts.
//
//	go test -run '^$' -bench BenchmarkVerifyDPoP -benchtime 5000x ./resource/
func BenchmarkVerifyDPoP(b *testing.B) {
	for _, proofAlg := range []string{"ES256", "EdDSA"} {
		for _, cached := range []bool{false, true} {
			name := proofAlg + "/uncached"
			if cached {
				name = proofAlg + "/cached"
			}
			b.Run(name, func(b *testing.B) {
				iss := resourcetest.Start()
				b.Cleanup(iss.Close)
				v := newVerifier(b, iss, func(cfg *Config) {
					cfg.ExternalURL = "https://api.example"
					if !cached {
						cfg.CacheSize = -1
					}
				})
				p := dpoptest.New(b, proofAlg)
				token := iss.Token(resourcetest.WithAlg(resourcetest.EdDSA), resourcetest.WithClaims(func(c *resourcetest.Claims) {
					c.Extra = map[string]any{"cnf": map[string]any{"jkt": p.JKT}}
				}))
				tokenPrim := primitive(b, iss.Current(resourcetest.EdDSA), token)
				proofPrim := proofPrimitive(b, p, p.Proof(b, "GET", "https://api.example/things", token, ""))
				reqs := make([]*http.Request, b.N)
				for i := range reqs {
					r := httptest.NewRequest("GET", "/things", nil)
					r.Header.Set("Authorization", "DPoP "+token)
					r.Header.Set("DPoP", p.Proof(b, "GET", "https://api.example/things", token, ""))
					reqs[i] = r
				}
				i := 0
				verify := func() {
					if _, err := v.VerifyRequest(reqs[i]); err != nil {
						b.Fatal(err)
					}
					i++
				}
				b.ReportAllocs()
				b.ResetTimer()
				primNs := interleaved(b, verify, func() { tokenPrim(); proofPrim() })
				verifyNs := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
				b.ReportMetric(primNs, "two-primitives-ns/op")
				b.ReportMetric(verifyNs/primNs, "x-two-primitives")
			})
		}
	}
}

// proofPrimitive is one raw signature check of a proof.
func proofPrimitive(b *testing.B, p *dpoptest.Prover, proof string) func() {
	i := strings.LastIndexByte(proof, '.')
	input := []byte(proof[:i])
	sig, err := base64.RawURLEncoding.DecodeString(proof[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	switch pub := p.Signer.Public().(type) {
	case *ecdsa.PublicKey:
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return func() {
			sum := sha256.Sum256(input)
			if !ecdsa.Verify(pub, sum[:], r, s) {
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
	b.Fatalf("unsupported key %T", p.Signer.Public())
	return nil
}
