package dpop_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/dpop"
)

// rawProof signs a hand-written header and claims with an Ed25519 key.
func rawProof(priv ed25519.PrivateKey, header, claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	input := enc([]byte(header)) + "." + enc([]byte(claims))
	return input + "." + enc(ed25519.Sign(priv, []byte(input)))
}

// tamperSignature flips one bit of the proof's signature, keeping it valid
// base64url (flipping a bit of the last character could set a bit the
// encoding leaves unused, which strict decoding refuses as malformed).
func tamperSignature(proof string) string {
	i := strings.LastIndexByte(proof, '.')
	sig, err := base64.RawURLEncoding.DecodeString(proof[i+1:])
	if err != nil {
		panic(err)
	}
	sig[0] ^= 1
	return proof[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}

// TestCheckStrictParsing: proofs that a lenient parser would read one way
// and another parser another way are refused, signed or not.
func TestCheckStrictParsing(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	jwk := `{"kty":"OKP","crv":"Ed25519","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	uri := "https://idp.example/oauth2/token"
	now := time.Now()
	claims := fmt.Sprintf(`{"jti":"j1","htm":"POST","htu":"%s","iat":%d}`, uri, now.Unix())
	header := `{"typ":"dpop+jwt","alg":"EdDSA","jwk":` + jwk + `}`
	c := &dpop.Checker{}
	req := dpop.Request{Method: "POST", URI: uri, Now: now}
	if _, err := c.Check(rawProof(priv, header, claims), req); err != nil {
		t.Fatalf("the well-formed proof: %v", err)
	}
	good := rawProof(priv, header, claims)
	cases := map[string]struct {
		proof string
		want  error
	}{
		"DuplicateAlg":      {rawProof(priv, `{"typ":"dpop+jwt","alg":"none","alg":"EdDSA","jwk":`+jwk+`}`, claims), dpop.ErrMalformed},
		"EscapedName":       {rawProof(priv, `{"typ":"dpop+jwt","\u0061lg":"EdDSA","jwk":`+jwk+`}`, claims), dpop.ErrMalformed},
		"Crit":              {rawProof(priv, `{"typ":"dpop+jwt","alg":"EdDSA","crit":["b64"],"b64":false,"jwk":`+jwk+`}`, claims), dpop.ErrMalformed},
		"TypNotString":      {rawProof(priv, `{"typ":1,"alg":"EdDSA","jwk":`+jwk+`}`, claims), dpop.ErrType},
		"NoJWK":             {rawProof(priv, `{"typ":"dpop+jwt","alg":"EdDSA"}`, claims), dpop.ErrKey},
		"JWKWithD":          {rawProof(priv, `{"typ":"dpop+jwt","alg":"EdDSA","jwk":`+strings.TrimSuffix(jwk, "}")+`,"d":"AA"}}`, claims), dpop.ErrKey},
		"JWKDuplicateX":     {rawProof(priv, `{"typ":"dpop+jwt","alg":"EdDSA","jwk":`+strings.TrimSuffix(jwk, "}")+`,"x":"AA"}}`, claims), dpop.ErrKey},
		"HS256":             {rawProof(priv, `{"typ":"dpop+jwt","alg":"HS256","jwk":`+jwk+`}`, claims), dpop.ErrAlg},
		"AlgKeyMismatch":    {rawProof(priv, `{"typ":"dpop+jwt","alg":"ES256","jwk":`+jwk+`}`, claims), dpop.ErrSignature},
		"DuplicateHTU":      {rawProof(priv, header, strings.Replace(claims, `"htm"`, `"htu":"https://evil.example/","htm"`, 1)), dpop.ErrClaims},
		"FractionalIAT":     {rawProof(priv, header, strings.Replace(claims, fmt.Sprint(now.Unix()), fmt.Sprint(now.Unix())+".5", 1)), dpop.ErrClaims},
		"NullNonce":         {rawProof(priv, header, strings.Replace(claims, `{`, `{"nonce":null,`, 1)), dpop.ErrClaims},
		"TrailingGarbage":   {rawProof(priv, header, claims+"x"), dpop.ErrClaims},
		"PaddedSignature":   {good + "==", dpop.ErrMalformed},
		"TamperedSignature": {tamperSignature(good), dpop.ErrSignature},
	}
	for name, tc := range cases {
		if _, err := c.Check(tc.proof, req); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}
