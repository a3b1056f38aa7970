package idp_test

import (
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestPrivateKeyJWTStrictParsing: assertions signed by the client's own key
// but spelled so that two JSON parsers could read them differently are
// refused: a repeated sub or alg, an escaped member name, a crit header,
// trailing bytes.
func TestPrivateKeyJWTStrictParsing(t *testing.T) {
	e := newEnv(t)
	k := e.keyClient("worker", "EdDSA")
	e.keyClient("other", "EdDSA")
	sign := func(header, claims string) string {
		enc := base64.RawURLEncoding.EncodeToString
		input := enc([]byte(header)) + "." + enc([]byte(claims))
		sig, err := k.Signer.Sign(rand.Reader, []byte(input), crypto.Hash(0))
		if err != nil {
			t.Fatal(err)
		}
		return input + "." + enc(sig)
	}
	now := e.clock.Now().Unix()
	claims := func(jti string) string {
		return fmt.Sprintf(`{"iss":"worker","sub":"worker","aud":%q,"exp":%d,"iat":%d,"jti":%q}`, e.tokenURL(), now+60, now, jti)
	}
	header := `{"alg":"EdDSA","kid":"k1"}`
	if r := e.ccWithAssertion(sign(header, claims("ok")), nil); r.status != http.StatusOK {
		t.Fatalf("the well-formed assertion: %d %s", r.status, r.raw)
	}
	for name, a := range map[string]string{
		"RepeatedSub":     sign(header, strings.Replace(claims("r1"), `"sub":"worker"`, `"sub":"other","sub":"worker"`, 1)),
		"RepeatedAlg":     sign(`{"alg":"none","alg":"EdDSA","kid":"k1"}`, claims("r2")),
		"EscapedName":     sign(`{"\u0061lg":"EdDSA","kid":"k1"}`, claims("r3")),
		"Crit":            sign(`{"alg":"EdDSA","kid":"k1","crit":["b64"],"b64":false}`, claims("r4")),
		"TrailingBytes":   sign(header, claims("r5")+"}"),
		"StringExp":       sign(header, strings.Replace(claims("r6"), fmt.Sprintf(`"exp":%d`, now+60), fmt.Sprintf(`"exp":"%d"`, now+60), 1)),
		"PaddedSignature": sign(header, claims("r7")) + "=",
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, e.ccWithAssertion(a, nil), http.StatusUnauthorized, "invalid_client")
		})
	}
}
