package resource

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

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

// FuzzParseHeader checks the hand-written header decoder against
// encoding/json decoding into a map, which matches member names exactly.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{
		`{"alg":"RS256","kid":"abc","typ":"at+jwt"}`,
		`{"alg":"EdDSA","kid":"a\"b\\c\u0000","typ":"at+jwt","jwk":{"kty":"OKP","x":"}"},"x5c":["a","b"]}`,
		`{"alg":"RS256","alg":"none"}`,
		`{"\u0061lg":"none","alg":"RS256"}`,
		`{"crit":["b64"],"b64":false}`,
		`{"ALG":"RS256"}`,
		` { "alg" : "RS256" , "n" : [ 1 , 2.5e3 , true , null ] } `,
		`{}`, `[]`, `"x"`, `{"alg":1}`, `{"kid":null}`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHeader(b)
		var m map[string]json.RawMessage
		refErr := json.Unmarshal(b, &m)
		if err == nil {
			if refErr != nil || m == nil {
				t.Fatalf("parseHeader accepted %q, encoding/json did not: %v", b, refErr)
			}
			check := func(name, got string, has bool) {
				raw, ok := m[name]
				if ok != has {
					t.Fatalf("%s presence: got %v, encoding/json %v", name, has, ok)
				}
				if !ok {
					return
				}
				var want string
				if err := json.Unmarshal(raw, &want); err != nil || want != got {
					t.Fatalf("%s = %q, encoding/json %q (%v)", name, got, want, err)
				}
			}
			check("alg", h.alg, h.hasAlg)
			check("kid", h.kid, h.hasKid)
			check("typ", h.typ, h.hasTyp)
			if _, ok := m["crit"]; ok != h.crit {
				t.Fatalf("crit: got %v, encoding/json %v", h.crit, ok)
			}
			return
		}
		if refErr != nil || m == nil {
			return
		}
		// Rejected although it is a JSON object: only allowed for a
		// non-string alg/kid/typ or a duplicate of one of them.
		for _, name := range []string{"alg", "kid", "typ"} {
			if raw, ok := m[name]; ok && !bytes.HasPrefix(bytes.TrimSpace(raw), []byte(`"`)) {
				return
			}
		}
		if !hasDuplicateMember(b) {
			t.Fatalf("parseHeader rejected %q: %v", b, err)
		}
	})
}

// hasDuplicateMember reports whether the top-level object in b repeats a
// member name.
func hasDuplicateMember(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		name, _ := tok.(string)
		if seen[name] {
			return true
		}
		seen[name] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return false
		}
	}
	return false
}

// FuzzB64Decode checks the allocation-free decoder against encoding/base64's
// strict unpadded URL encoding.
func FuzzB64Decode(f *testing.F) {
	for _, s := range []string{"", "A", "AA", "AB", "AAA", "AAB", "AAAA", "-_-_", "a+b/", "AA==", "eyJhbGciOiJSUzI1NiJ9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsAny(s, "\r\n") {
			return // encoding/base64 skips line breaks; tokens must not
		}
		want, wantErr := base64.RawURLEncoding.Strict().DecodeString(s)
		n := b64DecodedLen(len(s))
		if n < 0 {
			if wantErr == nil {
				t.Fatalf("length %d refused, encoding/base64 decoded it", len(s))
			}
			return
		}
		buf := make([]byte, n)
		got, ok := b64Decode(buf, s)
		if ok != (wantErr == nil) {
			t.Fatalf("b64Decode(%q) ok=%v, encoding/base64 err=%v", s, ok, wantErr)
		}
		if ok && !bytes.Equal(buf[:got], want) {
			t.Fatalf("b64Decode(%q) = %x, want %x", s, buf[:got], want)
		}
	})
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
			switch k.alg {
			case RS256:
				if bits := k.rsa.N.BitLen(); bits < minRSABits || bits > maxRSABits {
					t.Fatalf("RSA key of %d bits", bits)
				}
			case EdDSA:
				if len(k.ed) != 32 {
					t.Fatalf("Ed25519 key of %d bytes", len(k.ed))
				}
			default:
				t.Fatalf("alg %q", k.alg)
			}
		}
	})
}

// FuzzBearerToken: header parsing never panics and yields only b64tokens.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer a.b.c", "Bearer", "Bearer ", "Basic x", "Bearer a b", "Bearer ab==", "Bearer =", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		h := http.Header{}
		h.Set("Authorization", value)
		token, err := bearerToken(h)
		if err != nil {
			if !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if token == "" || strings.ContainsAny(token, " \t,\"") || !strings.HasSuffix(value, token) {
			t.Fatalf("token %q from %q", token, value)
		}
	})
}
