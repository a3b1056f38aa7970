package jws

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// strictObject is the reference for walkObject: encoding/json's validity,
// plus the rules walkObject adds (see json.go).
func strictObject(b []byte) bool {
	if !json.Valid(b) || !utf8.Valid(b) || !bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{")) {
		return false
	}
	names, raws, ok := topLevelNames(b)
	if !ok {
		return false
	}
	seen := map[string]bool{}
	for i, name := range names {
		if seen[name] || strings.Contains(raws[i], `\`) {
			return false
		}
		seen[name] = true
	}
	return true
}

// topLevelNames returns the decoded names of the top-level members of the
// JSON object b, and for each the raw text that held it.
func topLevelNames(b []byte) (names, raws []string, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, false
	}
	for dec.More() {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, false
		}
		names = append(names, tok.(string))
		raws = append(raws, string(b[start:dec.InputOffset()]))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, nil, false
		}
	}
	return names, raws, true
}

var jsonSeeds = []string{
	`{}`, ` { } `, `{"a":1}`, `{"a":1,}`, `{"a":1 "b":2}`, `{"a"}`, `{"a":}`, `{a:1}`, `{'a':1}`,
	`[]`, `"x"`, `1`, `null`, ``, `{`, `}`, `{"a":1}x`, `{"a":1}{}`, "\ufeff{}",
	`{"a":[1,2.5e3,-0,true,false,null,{"b":[]},"c"]}`, `{"a":[1,]}`, `{"a":[,1]}`,
	`{"n":01}`, `{"n":-}`, `{"n":1.}`, `{"n":.5}`, `{"n":1e}`, `{"n":1E+2}`, `{"n":-0.0e-0}`, `{"n":+1}`,
	`{"n":tru}`, `{"n":nul}`, `{"n":True}`,
	`{"s":"\u00e9\n\"\\\/\b\f\r\t"}`, `{"s":"\x"}`, `{"s":"\u12"}`, `{"s":"\ud800"}`, "{\"s\":\"a\tb\"}", "{\"s\":\"\x01\"}",
	"{\"s\":\"\xff\"}", "{\"s\":\"\xed\xa0\x80\"}", "{\"s\":\"é\"}", "{\"é\":1}",
	`{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, `{"\u0061":1}`, `{"a":{"b":1,"b":2}}`,
	`{"1":0,"2":0,"3":0,"4":0,"5":0,"6":0,"7":0,"8":0,"9":0,"10":0,"11":0,"12":0,"13":0,"14":0,"15":0,"16":0,"17":0,"1":0}`,
	`{"1":0,"2":0,"3":0,"4":0,"5":0,"6":0,"7":0,"8":0,"9":0,"10":0,"11":0,"12":0,"13":0,"14":0,"15":0,"16":0,"17":0,"17":0}`,
	`{"1":0,"2":0,"3":0,"4":0,"5":0,"6":0,"7":0,"8":0,"9":0,"10":0,"11":0,"12":0,"13":0,"14":0,"15":0,"16":0,"17":0,"18":0}`,
}

func TestWalkObject(t *testing.T) {
	deep := func(n int) string { return `{"a":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + `}` }
	for _, s := range append(jsonSeeds, deep(maxDepth), deep(maxDepth+1)) {
		name := s
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			got := walkObject([]byte(s), func(name, value span) bool { return true })
			if want := strictObject([]byte(s)); got != want {
				t.Errorf("walkObject(%q) = %v, want %v", s, got, want)
			}
		})
	}
}

// FuzzWalkObject checks the scanner against encoding/json plus its own two
// rules, and that it reports every member once, in order.
func FuzzWalkObject(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got []string
		ok := walkObject(b, func(name, value span) bool {
			got = append(got, string(b[name.start:name.end]))
			if !json.Valid(b[value.start:value.end]) {
				t.Fatalf("value %q of %q is not one JSON value", b[value.start:value.end], b)
			}
			return true
		})
		if want := strictObject(b); ok != want {
			t.Fatalf("walkObject(%q) = %v, want %v", b, ok, want)
		}
		if !ok {
			return
		}
		names, _, _ := topLevelNames(b)
		if strings.Join(got, "\x00") != strings.Join(names, "\x00") || len(got) != len(names) {
			t.Fatalf("walkObject(%q) saw %q, want %q", b, got, names)
		}
	})
}
