package keys

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// The example key of RFC 7638 §3.1 and its thumbprint.
const (
	rfc7638N   = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	rfc7638Kid = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
	// RFC 8037 Appendix A.3: the thumbprint of the Ed25519 key of A.2.
	rfc8037X   = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
	rfc8037Kid = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
)

func TestThumbprintRFCExamples(t *testing.T) {
	n, err := base64.RawURLEncoding.DecodeString(rfc7638N)
	if err != nil {
		t.Fatal(err)
	}
	x, err := base64.RawURLEncoding.DecodeString(rfc8037X)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pub  crypto.PublicKey
		want string
	}{
		{"RFC 7638 §3.1 RSA", &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}, rfc7638Kid},
		{"RFC 8037 A.3 Ed25519", ed25519.PublicKey(x), rfc8037Kid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Thumbprint(tt.pub)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Thumbprint = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	keks := mustKEKs(t, testKEK1+","+testKEK2)
	tests := []struct {
		alg         Alg
		wantMembers []string
		wantKty     string
	}{
		{RS256, []string{"alg", "e", "kid", "kty", "n", "use"}, "RSA"},
		{EdDSA, []string{"alg", "crv", "kid", "kty", "use", "x"}, "OKP"},
	}
	for _, tt := range tests {
		t.Run(string(tt.alg), func(t *testing.T) {
			r, err := Generate(tt.alg, keks, t0)
			if err != nil {
				t.Fatal(err)
			}
			want := Record{KID: r.KID, Alg: tt.alg, State: StateNext, PublicJWK: r.PublicJWK, Sealed: r.Sealed, KEKID: "k1", CreatedAt: t0}
			if diff := cmp.Diff(want, r); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}

			// Public members only, plus kid, alg and use (RFC 7517 §4).
			var members map[string]any
			if err := json.Unmarshal(r.PublicJWK, &members); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantMembers, slices.Sorted(maps.Keys(members))); diff != "" {
				t.Errorf("JWK members (-want +got):\n%s", diff)
			}
			if members["kty"] != tt.wantKty || members["use"] != "sig" || members["alg"] != string(tt.alg) || members["kid"] != r.KID {
				t.Errorf("JWK = %s", r.PublicJWK)
			}

			// The kid is the RFC 7638 thumbprint as jwx computes it from
			// the published JWK.
			k, err := jwk.ParseKey(r.PublicJWK)
			if err != nil {
				t.Fatal(err)
			}
			if isPriv, err := jwk.IsPrivateKey(k); err != nil || isPriv {
				t.Errorf("published JWK is private (%v, %v)", isPriv, err)
			}
			tp, err := k.Thumbprint(crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if got := base64.RawURLEncoding.EncodeToString(tp); got != r.KID {
				t.Errorf("kid %s, thumbprint of the JWK %s", r.KID, got)
			}

			// The sealed blob is the PKCS #8 private key of that public key.
			der, err := keks.open(r.KID, r.KEKID, r.Sealed)
			if err != nil {
				t.Fatal(err)
			}
			priv, err := x509.ParsePKCS8PrivateKey(der)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := jwk.PublicRawKeyOf(k)
			if err != nil {
				t.Fatal(err)
			}
			if !priv.(crypto.Signer).Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
				t.Error("sealed private key does not match the published key")
			}
			if rk, ok := priv.(*rsa.PrivateKey); ok && rk.N.BitLen() != 2048 {
				t.Errorf("RSA key has %d bits, want 2048", rk.N.BitLen())
			}
			if strings.Contains(string(r.Sealed), string(der[len(der)-32:])) {
				t.Error("sealed blob contains private key bytes")
			}
		})
	}
	t.Run("unsupported alg", func(t *testing.T) {
		if _, err := Generate("HS256", keks, t0); err == nil {
			t.Fatal("Generate(HS256) succeeded")
		}
	})
}

func TestParseAlg(t *testing.T) {
	for _, s := range []string{"RS256", "EdDSA"} {
		if a, err := ParseAlg(s); err != nil || string(a) != s {
			t.Errorf("ParseAlg(%q) = %q, %v", s, a, err)
		}
	}
	for _, s := range []string{"", "rs256", "eddsa", "none", "HS256", "Ed25519", "ES256"} {
		if _, err := ParseAlg(s); err == nil {
			t.Errorf("ParseAlg(%q) succeeded", s)
		}
	}
}

// parsePublicJWK is what stands between a stored row and the published JWKS.
func TestParsePublicJWKRefusesBadRows(t *testing.T) {
	ed := testKey(t, EdDSA, 0)
	rs := testKey(t, RS256, 0)
	edit := func(r Record, f func(m map[string]any)) Record {
		var m map[string]any
		if err := json.Unmarshal(r.PublicJWK, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		r.PublicJWK, _ = json.Marshal(m)
		return r
	}
	tests := []struct {
		name    string
		rec     Record
		wantErr string
	}{
		{"private member d", edit(ed, func(m map[string]any) { m["d"] = "AAAA" }), `unknown field "d"`},
		{"RSA private member p", edit(rs, func(m map[string]any) { m["p"] = "AAAA" }), `unknown field "p"`},
		{"kid is not the thumbprint", func() Record {
			r := edit(ed, func(m map[string]any) { m["kid"] = "other" })
			r.KID = "other"
			return r
		}(), "not the thumbprint"},
		{"kid differs from the row", edit(ed, func(m map[string]any) { m["kid"] = "other" }), `kid "other"`},
		{"alg differs from the lane", edit(ed, func(m map[string]any) { m["alg"] = "RS256" }), `alg "RS256"`},
		{"use enc", edit(ed, func(m map[string]any) { m["use"] = "enc" }), `use "enc"`},
		{"RSA key in EdDSA lane", func() Record { r := rs; r.Alg = EdDSA; return r }(), "does not fit its lane EdDSA"},
		{"Ed448", edit(ed, func(m map[string]any) { m["crv"] = "Ed448" }), "does not fit its lane"},
		{"small RSA", edit(rs, func(m map[string]any) { m["n"] = base64.RawURLEncoding.EncodeToString(make([]byte, 128)) }), "too small"},
		{"not JSON", func() Record { r := ed; r.PublicJWK = []byte("{"); return r }(), "not a public EdDSA key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parsePublicJWK(tt.rec)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("parsePublicJWK error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
	t.Run("reordered members are republished canonically", func(t *testing.T) {
		r := edit(rs, func(map[string]any) {}) // json.Marshal of a map sorts members
		if string(r.PublicJWK) == string(rs.PublicJWK) {
			t.Fatal("test needs a different member order")
		}
		_, canon, err := parsePublicJWK(r)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(rs.PublicJWK), string(canon)); diff != "" {
			t.Errorf("canonical JWK (-want +got):\n%s", diff)
		}
	})
}

func TestOpenPrivateChecksTheKeyPair(t *testing.T) {
	keks := mustKEKs(t, testKEK1)
	a, b := testKey(t, EdDSA, 0), testKey(t, EdDSA, 1)
	pubB, _, err := parsePublicJWK(b)
	if err != nil {
		t.Fatal(err)
	}
	// b's public key with a's private key, sealed for b's kid: the AAD
	// check passes, the key-pair check must not.
	der, err := keks.open(a.KID, a.KEKID, a.Sealed)
	if err != nil {
		t.Fatal(err)
	}
	b.Sealed, b.KEKID, err = keks.seal(b.KID, der)
	if err != nil {
		t.Fatal(err)
	}
	_, err = openPrivate(b, keks, pubB)
	if err == nil || !strings.Contains(err.Error(), "does not match the published public key") {
		t.Fatalf("openPrivate error = %v", err)
	}
	if errors.Is(err, ErrDecrypt) {
		t.Error("a key-pair mismatch is not a decryption failure")
	}
}
