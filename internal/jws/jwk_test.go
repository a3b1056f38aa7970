package jws_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/rotor-idp/rotor/internal/jws"
)

func testKeys(t *testing.T) map[string]crypto.Signer {
	t.Helper()
	out := map[string]crypto.Signer{}
	for name, c := range map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()} {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = k
	}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	out["Ed25519"] = ed
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	out["RSA"] = r
	return out
}

func members(t *testing.T, key any) map[string]any {
	t.Helper()
	k, err := jwk.Import(key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(k)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func marshal(m map[string]any) []byte { b, _ := json.Marshal(m); return b }

// TestParseJWKThumbprint: the thumbprint is jwx's RFC 7638 thumbprint of the
// same key, for every kind of key accepted.
func TestParseJWKThumbprint(t *testing.T) {
	for name, priv := range testKeys(t) {
		pub, _ := jwk.PublicKeyOf(priv.Public())
		tp, err := pub.Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		got, err := jws.ParseJWK(marshal(members(t, priv.Public())))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := base64.RawURLEncoding.EncodeToString(tp); got.Thumbprint() != want {
			t.Errorf("%s: thumbprint %s, want %s", name, got.Thumbprint(), want)
		}
	}
}

// TestParseJWKRefuses: private and symmetric keys, repeated members, wrong
// sizes and points off the curve are all ErrJWK.
func TestParseJWKRefuses(t *testing.T) {
	keys := testKeys(t)
	ec := members(t, keys["P-256"].Public())
	rsaPub := members(t, keys["RSA"].Public())
	with := func(m map[string]any, k string, v any) []byte {
		c := map[string]any{}
		for a, b := range m {
			c[a] = b
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return marshal(c)
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	cases := map[string][]byte{
		"ECPrivate":      marshal(members(t, keys["P-256"])),
		"OKPPrivate":     marshal(members(t, keys["Ed25519"])),
		"RSAPrivate":     marshal(members(t, keys["RSA"])),
		"Symmetric":      []byte(`{"kty":"oct","k":"c2VjcmV0"}`),
		"StrayD":         with(ec, "d", "AAAA"),
		"Duplicate":      []byte(strings.Replace(string(marshal(ec)), `{`, `{"kty":"RSA",`, 1)),
		"WrongCurve":     with(ec, "crv", "P-384"),
		"ShortX":         with(ec, "x", ec["x"].(string)[:40]),
		"OffCurve":       with(ec, "y", ec["x"]),
		"NoKty":          with(ec, "kty", nil),
		"NumberX":        with(ec, "x", 1),
		"RSA1024":        with(rsaPub, "n", base64.RawURLEncoding.EncodeToString(small.N.Bytes())),
		"RSAEvenE":       with(rsaPub, "e", "AQAA"),
		"PaddedX":        with(ec, "x", ec["x"].(string)+"="),
		"NotAnObject":    []byte(`["EC"]`),
		"UnknownKeyType": with(ec, "kty", "XYZ"),
	}
	for name, b := range cases {
		if _, err := jws.ParseJWK(b); err != jws.ErrJWK {
			t.Errorf("%s: err %v, want ErrJWK", name, err)
		}
	}
}

// TestParseJWKLeadingZero: an RSA modulus sent with a leading zero octet is
// the same key and the same thumbprint.
func TestParseJWKLeadingZero(t *testing.T) {
	m := members(t, testKeys(t)["RSA"].Public())
	want, err := jws.ParseJWK(marshal(m))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := base64.RawURLEncoding.DecodeString(m["n"].(string))
	m["n"] = base64.RawURLEncoding.EncodeToString(append([]byte{0}, n...))
	got, err := jws.ParseJWK(marshal(m))
	if err != nil || got.Thumbprint() != want.Thumbprint() {
		t.Errorf("padded modulus: %v, thumbprint %v", err, got)
	}
}

// FuzzParseJWK: no input makes ParseJWK panic, and an accepted key always
// has a thumbprint and verifies nothing that is not a signature.
func FuzzParseJWK(f *testing.F) {
	for _, s := range []string{
		`{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`,
		`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`,
		`{"kty":"RSA","e":"AQAB","n":"AA"}`,
		`{"kty":"oct","k":"AA"}`,
		`{}`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := jws.ParseJWK(b)
		if err != nil {
			return
		}
		if k.Thumbprint() == "" {
			t.Fatal("accepted key without a thumbprint")
		}
		for _, alg := range []string{"ES256", "ES384", "ES512", "EdDSA", "RS256", "PS256", "none", "HS256"} {
			if k.Verify(alg, "a.b", make([]byte, 64)) {
				t.Fatalf("%s: a zero signature verified", alg)
			}
		}
	})
}
