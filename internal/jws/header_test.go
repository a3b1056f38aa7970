package jws

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseHeader(t *testing.T) {
	tests := []struct {
		in   string
		want *Header // nil: ErrHeader
	}{
		{`{"alg":"RS256","kid":"k1","typ":"at+jwt"}`, &Header{Alg: "RS256", Kid: "k1", Typ: "at+jwt", HasAlg: true, HasKid: true, HasTyp: true}},
		{` {"kid" : "a\"b\u00e9" , "typ":"JWT"} `, &Header{Kid: `a"bé`, Typ: "JWT", HasKid: true, HasTyp: true}},
		{`{"alg":"EdDSA","jwk":{"kty":"OKP","x":"}"},"x5c":["a"],"crit":["b64"]}`, &Header{Alg: "EdDSA", HasAlg: true, Crit: true}},
		{`{"crit":null}`, &Header{Crit: true}},
		{`{"ALG":"RS256","Kid":"k"}`, &Header{}},
		{`{}`, &Header{}},
		{`{"alg":"RS256","alg":"RS256"}`, nil},
		{`{"x":1,"x":1}`, nil},
		{`{"\u0061lg":"RS256"}`, nil},
		{`{"\u0078":1}`, nil},
		{`{"alg":1}`, nil},
		{`{"kid":null}`, nil},
		{`{"typ":["at+jwt"]}`, nil},
		{`{"x":"` + "\xff" + `"}`, nil},
		{`["alg"]`, nil},
		{`null`, nil},
		{`{"alg":"RS256"`, nil},
		{`{"alg":"RS256"}x`, nil},
		{``, nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseHeader([]byte(tt.in))
			if tt.want == nil {
				if err != ErrHeader {
					t.Fatalf("ParseHeader(%q) = %+v, %v; want ErrHeader", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseHeader(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(*tt.want, got); diff != "" {
				t.Errorf("ParseHeader(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// FuzzParseHeader checks the header decoder against encoding/json decoding
// into a map, which matches member names exactly: it must accept exactly
// the strict objects whose alg, kid and typ are strings, and read the same
// values.
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
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if err != nil && err != ErrHeader {
			t.Fatalf("error %v", err)
		}
		var m map[string]json.RawMessage
		wantOK := strictObject(b) && json.Unmarshal(b, &m) == nil
		for _, name := range []string{"alg", "kid", "typ"} {
			if raw, ok := m[name]; ok && !bytes.HasPrefix(raw, []byte(`"`)) {
				wantOK = false
			}
		}
		if (err == nil) != wantOK {
			t.Fatalf("ParseHeader(%q) error %v, want ok=%v", b, err, wantOK)
		}
		if err != nil {
			return
		}
		check := func(name, got string, has bool) {
			raw, ok := m[name]
			if ok != has {
				t.Fatalf("%s presence: got %v, encoding/json %v", name, has, ok)
			}
			var want string
			if ok && (json.Unmarshal(raw, &want) != nil || want != got) {
				t.Fatalf("%s = %q, encoding/json %q", name, got, want)
			}
		}
		check("alg", h.Alg, h.HasAlg)
		check("kid", h.Kid, h.HasKid)
		check("typ", h.Typ, h.HasTyp)
		if _, ok := m["crit"]; ok != h.Crit {
			t.Fatalf("crit: got %v, encoding/json %v", h.Crit, ok)
		}
	})
}
