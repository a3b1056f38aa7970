package jws

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		in   string
		want []byte // nil: rejected
	}{
		{"", []byte{}},
		{"AA", []byte{0}},
		{"AAA", []byte{0, 0}},
		{"AAAA", []byte{0, 0, 0}},
		{"_-8", []byte{0xff, 0xef}},
		{"-_-_", []byte{0xfb, 0xff, 0xbf}},
		{"eyJhbGciOiJSUzI1NiJ9", []byte(`{"alg":"RS256"}`)},
		{"A", nil},                       // no input has this length
		{"AB", nil},                      // non-zero trailing bits: "AA" is the encoding of 0x00
		{"AAB", nil},                     // likewise for two bytes
		{"AA==", nil},                    // padding
		{"a+b/", nil},                    // the standard alphabet
		{"AA\nAA", nil},                  // encoding/base64 would skip the line break
		{"AA\rA", nil},                   // and the carriage return
		{"AA.A", nil},                    // a dot
		{"AAA\x00", nil},                 // a NUL
		{"AAA\xff", nil},                 // a byte that is not ASCII
		{strings.Repeat("A", 4097), nil}, // length 1 mod 4
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			n := DecodedLen(len(tt.in))
			buf := make([]byte, max(n, 0))
			got, ok := Decode(buf, tt.in)
			if tt.want == nil {
				if ok {
					t.Fatalf("Decode(%q) = %x, want rejection", tt.in, buf[:got])
				}
				return
			}
			if !ok || !bytes.Equal(buf[:got], tt.want) {
				t.Fatalf("Decode(%q) = %x, %v; want %x", tt.in, buf[:got], ok, tt.want)
			}
		})
	}
	if _, ok := Decode(make([]byte, 2), "AAAA"); ok {
		t.Error("Decode wrote past a short dst")
	}
}

func TestEncodedLen(t *testing.T) {
	for n := range 200 {
		enc := base64.RawURLEncoding.EncodedLen(n)
		if got := EncodedLen(n); got != enc {
			t.Fatalf("EncodedLen(%d) = %d, want %d", n, got, enc)
		}
		if got := DecodedLen(enc); got != n {
			t.Fatalf("DecodedLen(%d) = %d, want %d", enc, got, n)
		}
	}
}

// FuzzDecode checks the decoder against encoding/base64's strict unpadded
// URL encoding, which differs only in skipping line breaks.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"", "A", "AA", "AB", "AAA", "AAB", "AAAA", "-_-_", "a+b/", "AA==", "eyJhbGciOiJSUzI1NiJ9", "AA\nAA", "A\rAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := DecodedLen(len(s))
		buf := make([]byte, max(n, 0))
		got, ok := Decode(buf, s)
		if strings.ContainsAny(s, "\r\n") {
			if ok {
				t.Fatalf("Decode(%q) accepted a line break", s)
			}
			return
		}
		want, wantErr := base64.RawURLEncoding.Strict().DecodeString(s)
		if ok != (wantErr == nil) {
			t.Fatalf("Decode(%q) ok=%v, encoding/base64 err=%v", s, ok, wantErr)
		}
		if ok && !bytes.Equal(buf[:got], want) {
			t.Fatalf("Decode(%q) = %x, want %x", s, buf[:got], want)
		}
	})
}
