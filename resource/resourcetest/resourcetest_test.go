package resourcetest_test

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rotor-idp/rotor/resource/resourcetest"
)

// The example of RFC 7638 §3.1.
func TestThumbprintRFC7638(t *testing.T) {
	n, _ := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	got := resourcetest.Thumbprint(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537})
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Errorf("Thumbprint = %q, want %q", got, want)
	}
}

func get(t *testing.T, url string, header ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestIssuerServesRotorDocuments(t *testing.T) {
	iss := resourcetest.New(t)
	var md map[string]any
	json.NewDecoder(get(t, iss.URL()+resourcetest.MetadataPath).Body).Decode(&md)
	if md["issuer"] != iss.URL() || md["jwks_uri"] != iss.JWKSURL() {
		t.Errorf("metadata = %v", md)
	}

	resp := get(t, iss.JWKSURL())
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=60" || !strings.HasPrefix(etag, `"`) {
		t.Errorf("JWKS response %d, headers %v", resp.StatusCode, resp.Header)
	}
	var set struct{ Keys []map[string]any }
	json.NewDecoder(resp.Body).Decode(&set)
	want := []map[string]any{iss.Current(resourcetest.RS256).JWK(), iss.Current(resourcetest.EdDSA).JWK()}
	if diff := cmp.Diff(want, set.Keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	if resp := get(t, iss.JWKSURL(), "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("conditional request: %d", resp.StatusCode)
	}
	if n := iss.JWKSFetches(); n != 2 {
		t.Errorf("JWKSFetches = %d", n)
	}

	iss.Publish(iss.NewKey(resourcetest.EdDSA))
	if resp := get(t, iss.JWKSURL(), "If-None-Match", etag); resp.StatusCode != 200 {
		t.Errorf("after a change: %d", resp.StatusCode)
	}
	iss.SetJWKSHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	if resp := get(t, iss.JWKSURL()); resp.StatusCode != 500 || iss.JWKSFetches() != 4 {
		t.Errorf("fault handler: %d, fetches %d", resp.StatusCode, iss.JWKSFetches())
	}
}

func TestTokenFormat(t *testing.T) {
	iss := resourcetest.New(t)
	decode := func(seg string) string {
		b, err := base64.RawURLEncoding.DecodeString(seg)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, alg := range []string{resourcetest.RS256, resourcetest.EdDSA} {
		parts := strings.Split(iss.Token(resourcetest.WithAlg(alg)), ".")
		want := `{"alg":"` + alg + `","kid":"` + iss.Current(alg).ID + `","typ":"at+jwt"}`
		if got := decode(parts[0]); got != want {
			t.Errorf("header = %s, want %s", got, want)
		}
	}
	var one, two map[string]any
	json.Unmarshal([]byte(decode(strings.Split(iss.Token(), ".")[1])), &one)
	json.Unmarshal([]byte(decode(strings.Split(iss.Token(resourcetest.WithClaims(func(c *resourcetest.Claims) {
		c.Audience = []string{"a", "b"}
	})), ".")[1])), &two)
	if _, ok := one["aud"].(string); !ok {
		t.Errorf("one audience: aud = %#v, want a string", one["aud"])
	}
	if _, ok := two["aud"].([]any); !ok {
		t.Errorf("two audiences: aud = %#v, want an array", two["aud"])
	}
	for _, name := range []string{"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"} {
		if _, ok := one[name]; !ok {
			t.Errorf("default claims lack %s", name)
		}
	}
	if _, ok := one["exp"].(float64); !ok {
		t.Errorf("exp = %#v", one["exp"])
	}
}
