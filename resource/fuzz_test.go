package resource

import (
	"context"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/rotor-idp/rotor/internal/jwstest"
	"github.com/rotor-idp/rotor/resource/resourcetest"
)

// FuzzVerify feeds arbitrary tokens to a warm verifier: it must never panic,
// and must only accept tokens the issuer signed.
func FuzzVerify(f *testing.F) {
	iss := resourcetest.Start()
	f.Cleanup(iss.Close)
	v, err := New(Config{Issuer: iss.URL(), Audience: resourcetest.Audience, Logger: discard()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { v.Close() })
	if err := v.Refresh(context.Background()); err != nil {
		f.Fatal(err)
	}
	rs := iss.Current(resourcetest.RS256)
	good := iss.Token()
	f.Add(good)
	edGood := iss.Token(resourcetest.WithAlg(resourcetest.EdDSA))
	f.Add(edGood)
	parts := strings.Split(good, ".")
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(resourcetest.SignRaw(rs, []byte(`{"alg":"RS256","kid":"`+rs.ID+`","typ":"at+jwt","crit":["x"]}`), []byte(`{}`)))
	f.Add(resourcetest.SignRaw(rs, []byte(`{"alg":"RS256","kid":"\u0000","typ":"at+jwt","jwk":{"a":[1,{"b":"}"}]}}`), []byte(`{}`)))
	f.Add(b64([]byte(`{"alg":"none"}`)) + "." + b64([]byte(`{"sub":"x"}`)) + ".")
	f.Add("rtr_" + strings.Repeat("A", 43))
	f.Add("a.b.c.d.e")
	f.Add(`{"payload":"x","signatures":[]}`)
	f.Add("")
	// The attack catalogue, as seeds: the tokens that fail only a claim
	// check are signed by the issuer, but no other verifies either.
	atk := newAttacker(iss)
	for _, c := range jwstest.Attacks(f, jwstest.Target{
		RS256: jwsKey(rs), EdDSA: jwsKey(iss.Current(resourcetest.EdDSA)),
		AttackerRS256: jwsKey(atk.rsa), AttackerEdDSA: jwsKey(atk.ed),
		Claims: func() map[string]any { return iss.DefaultClaims().Map() },
	}).Cases {
		f.Add(c.Token)
	}
	// The only tokens the issuer signed. Canonical base64url, a strict
	// parser and non-malleable signatures (Go checks s < n for RSA and
	// S < L for Ed25519) mean no other string can verify.
	issued := map[string]bool{good: true, edGood: true}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(context.Background(), token)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) && !errors.Is(err, ErrNoToken) && !errors.Is(err, ErrKeysUnavailable) {
				t.Fatalf("error %v matches no sentinel", err)
			}
			return
		}
		if !issued[token] {
			t.Fatalf("accepted a token the issuer did not sign: %q", token)
		}
		if c.Issuer != iss.URL() || c.Subject == "" || !slicesContains(c.Audience(), resourcetest.Audience) {
			t.Fatalf("accepted claims %+v", c)
		}
	})
}

func slicesContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// FuzzParseKeySet: any JWKS body must parse or fail without panicking, and
// every key it yields must be a usable signing key.
func FuzzParseKeySet(f *testing.F) {
	iss := resourcetest.Start()
	f.Cleanup(iss.Close)
	f.Add(iss.JWKS())
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB"},{"kty":"OKP","crv":"Ed25519","kid":"b","x":"AA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"AA","kid":"c"}]}`))
	f.Add([]byte(`{"keys":[1,"x",null,{}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		keys, _, err := parseKeySet(body)
		if err != nil {
			return
		}
		for kid, k := range keys {
			if kid == "" || kid != k.kid {
				t.Fatalf("bad kid %q", kid)
			}
			switch pub := k.key.Public().(type) {
			case *rsa.PublicKey:
				if bits := pub.N.BitLen(); k.key.Alg() != RS256 || bits < minRSABits || bits > maxRSABits {
					t.Fatalf("%s key: RSA of %d bits", k.key.Alg(), bits)
				}
			case ed25519.PublicKey:
				if k.key.Alg() != EdDSA || len(pub) != 32 {
					t.Fatalf("%s key: Ed25519 of %d bytes", k.key.Alg(), len(pub))
				}
			default:
				t.Fatalf("%s key: %T", k.key.Alg(), pub)
			}
		}
	})
}

// FuzzAuthorization: header parsing never panics and yields only b64tokens
// with the Bearer or DPoP scheme.
func FuzzAuthorization(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer a.b.c", "Bearer", "Bearer ", "Basic x", "Bearer a b", "Bearer ab==", "Bearer =", "",
		"DPoP a.b.c", "dpop abc", "DPoP", "DPoPx abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		h := http.Header{}
		h.Set("Authorization", value)
		scheme, token, err := authorization(h)
		if err != nil {
			if !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if (scheme != "Bearer" && scheme != "DPoP") || token == "" || strings.ContainsAny(token, " \t,\"") || !strings.HasSuffix(value, token) {
			t.Fatalf("token %q from %q", token, value)
		}
	})
}
