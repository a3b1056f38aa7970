package jws

import (
	"encoding/json"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseClaims(t *testing.T) {
	date := func(sec int64, nsec int64) NumericDate { return NumericDate{time.Unix(sec, nsec), true} }
	tests := []struct {
		in   string
		want *Claims // nil: ErrClaims
	}{
		{`{"iss":"https://rotor.example","sub":"u1","aud":"api","exp":1893456900,"iat":1893456000,"jti":"j","client_id":"web","scope":"a b"}`,
			&Claims{Issuer: "https://rotor.example", Subject: "u1", Audience: []string{"api"}, ExpiresAt: date(1893456900, 0),
				IssuedAt: date(1893456000, 0), JWTID: "j", ClientID: "web", Scope: "a b"}},
		{`{"aud":["a","b\u00e9"],"scp":"x y","nbf":1.5,"exp":0}`,
			&Claims{Audience: []string{"a", "bé"}, Scp: []string{"x y"}, NotBefore: date(1, 5e8), ExpiresAt: date(0, 0)}},
		{`{"aud":[],"scp":[ "r" , "w" ],"exp":1e3,"iat":-0}`,
			&Claims{Audience: []string{}, Scp: []string{"r", "w"}, ExpiresAt: date(1000, 0), IssuedAt: date(0, 0)}},
		{`{"iss":null,"aud":null,"exp":null,"sub":"s"}`, &Claims{Subject: "s"}},
		{`{"ISS":"x","Sub":"y","tenant":{"a":[1,{"b":null}]}}`, &Claims{}},
		{`{"exp":253402300799}`, &Claims{ExpiresAt: date(253402300799, 0)}},
		{`{"exp":253402300800}`, nil},
		{`{"exp":1e300}`, nil},
		{`{"exp":-1}`, nil},
		{`{"exp":"1"}`, nil},
		{`{"exp":true}`, nil},
		{`{"iss":1}`, nil},
		{`{"aud":1}`, nil},
		{`{"aud":["a",1]}`, nil},
		{`{"aud":["a",null]}`, nil},
		{`{"scp":{"a":"b"}}`, nil},
		{`{"iss":"a","iss":"a"}`, nil},
		{`{"x":1,"x":1}`, nil},
		{`{"\u0069ss":"a"}`, nil},
		{`{"x":"` + "\xff" + `"}`, nil},
		{`[]`, nil},
		{`null`, nil},
		{`not json`, nil},
		{``, nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseClaims([]byte(tt.in))
			if tt.want == nil {
				if err != ErrClaims {
					t.Fatalf("parseClaims(%q) = %+v, %v; want ErrClaims", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseClaims(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(*tt.want, got); diff != "" {
				t.Errorf("parseClaims(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// refClaims decodes claims with encoding/json under the rules parseClaims
// states, as the reference for FuzzParseClaims.
func refClaims(b []byte) (Claims, bool) {
	var m map[string]json.RawMessage
	if !strictObject(b) || json.Unmarshal(b, &m) != nil {
		return Claims{}, false
	}
	var c Claims
	str := func(name string, dst *string) bool {
		raw, ok := m[name]
		if !ok || string(raw) == "null" {
			return true
		}
		return raw[0] == '"' && json.Unmarshal(raw, dst) == nil
	}
	list := func(name string, dst *[]string) bool {
		raw, ok := m[name]
		if !ok || string(raw) == "null" {
			return true
		}
		if raw[0] == '"' {
			var s string
			*dst = []string{s}
			return json.Unmarshal(raw, &(*dst)[0]) == nil
		}
		var elems []json.RawMessage
		if json.Unmarshal(raw, &elems) != nil {
			return false
		}
		*dst = make([]string, len(elems))
		for i, e := range elems {
			if e[0] != '"' || json.Unmarshal(e, &(*dst)[i]) != nil {
				return false
			}
		}
		return true
	}
	date := func(name string, dst *NumericDate) bool {
		raw, ok := m[name]
		if !ok || string(raw) == "null" {
			return true
		}
		if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
			return false
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || f < 0 || f > maxNumericDate {
			return false
		}
		sec, frac := math.Modf(f)
		*dst = NumericDate{time.Unix(int64(sec), int64(frac*1e9)), true}
		return true
	}
	ok := str("iss", &c.Issuer) && str("sub", &c.Subject) && str("jti", &c.JWTID) &&
		str("client_id", &c.ClientID) && str("scope", &c.Scope) &&
		list("aud", &c.Audience) && list("scp", &c.Scp) &&
		date("exp", &c.ExpiresAt) && date("iat", &c.IssuedAt) && date("nbf", &c.NotBefore)
	return c, ok
}

// FuzzParseClaims checks the claims decoder against encoding/json under the
// same rules.
func FuzzParseClaims(f *testing.F) {
	for _, s := range []string{
		`{"iss":"https://rotor.example","sub":"u1","aud":"api","exp":1893456900,"iat":1893456000,"jti":"j","client_id":"web","scope":"a b"}`,
		`{"aud":["a","b\u00e9"],"scp":"x y","nbf":1.5,"exp":0}`,
		`{"aud":[],"scp":[ "r" , "w" ],"exp":1e3,"iat":-0}`,
		`{"iss":null,"aud":null,"exp":null}`,
		`{"exp":253402300799.9999999}`, `{"exp":12345678901234}`, `{"exp":00}`, `{"exp":-0.5}`,
		`{"iss":"a","iss":"b"}`, `{"\u0069ss":"a"}`, `{"aud":["a",null]}`, `{"ISS":"a"}`,
	} {
		f.Add([]byte(s))
	}
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseClaims(b)
		if err != nil && err != ErrClaims {
			t.Fatalf("error %v", err)
		}
		want, ok := refClaims(b)
		if (err == nil) != ok {
			t.Fatalf("parseClaims(%q) error %v, want ok=%v", b, err, ok)
		}
		if ok {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("parseClaims(%q) (-want +got):\n%s", b, diff)
			}
		}
	})
}
