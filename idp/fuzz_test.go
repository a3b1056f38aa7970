package idp

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The parsers that read attacker-controlled bytes before any authentication:
// fuzz them with `go test -fuzz FuzzX ./idp/`; the seeds run in every
// `go test`.

func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"", "read", "read write", " a", "a  b", "schedules:read", "\x00", "é", strings.Repeat("a ", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		toks, ok := parseScope(s)
		if !ok {
			return
		}
		// Whatever parses is a list of distinct, valid scope tokens that
		// round-trips to the input minus duplicates.
		seen := map[string]bool{}
		for _, tok := range toks {
			if !validScopeToken(tok) || seen[tok] {
				t.Fatalf("parseScope(%q) returned %q", s, toks)
			}
			seen[tok] = true
		}
		again, ok := parseScope(strings.Join(toks, " "))
		if !ok || len(again) != len(toks) {
			t.Fatalf("round trip of %q failed", s)
		}
	})
}

func FuzzClientCredentials(f *testing.F) {
	f.Add("Basic "+base64.StdEncoding.EncodeToString([]byte("app:secret")), "", "")
	f.Add("Basic "+base64.StdEncoding.EncodeToString([]byte("a%20b:%3A")), "", "")
	f.Add("", "app", "secret")
	f.Add("Bearer x", "app", "")
	f.Add("Basic", "", "")
	f.Add("basic Og==", "", "")
	f.Add("", "my app", "s:e%c+r/et é") // escapes in both parts
	f.Fuzz(func(t *testing.T, auth, id, secret string) {
		roundTrip(t, id, secret)
		r := httptest.NewRequest("POST", "/oauth2/token", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		f := form{}
		if id != "" {
			f["client_id"] = id
		}
		if secret != "" {
			f["client_secret"] = secret
		}
		cred, err := clientCredentials(r, f)
		if err != nil {
			if oe := asOAuthError(err); oe.Code != "invalid_request" && oe.Code != "invalid_client" {
				t.Fatalf("error code %q", oe.Code)
			}
			return
		}
		if cred.basic && secret != "" {
			t.Fatal("accepted credentials in both the header and the body")
		}
	})
}

// roundTrip checks that an id and secret sent as RFC 6749 §2.3.1 says, in
// the header (each form-urlencoded, then Basic) or in the body, come back
// exactly as they were sent.
func roundTrip(t *testing.T, id, secret string) {
	if id == "" {
		return // no client: refused
	}
	r := httptest.NewRequest("POST", "/oauth2/token", nil)
	r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret))))
	cred, err := clientCredentials(r, form{})
	if want := (credentials{id: id, secret: secret, basic: true}); err != nil || cred != want {
		t.Fatalf("Basic %q:%q: got %+v, %v", id, secret, cred, err)
	}
	body := form{"client_id": id}
	if secret != "" {
		body["client_secret"] = secret
	}
	cred, err = clientCredentials(httptest.NewRequest("POST", "/oauth2/token", nil), body)
	if want := (credentials{id: id, secret: secret}); err != nil || cred != want {
		t.Fatalf("body %q:%q: got %+v, %v", id, secret, cred, err)
	}
}

func FuzzRefreshTokenHash(f *testing.F) {
	tok, _ := newRefreshToken(time.Now())
	f.Add(tok)
	f.Add(RefreshTokenPrefix + base64.RawURLEncoding.EncodeToString(make([]byte, 32)))
	f.Add("rtr_")
	f.Add("eyJ.eyJ.x")
	f.Add(strings.Repeat("A", 47))
	f.Fuzz(func(t *testing.T, s string) {
		h, ok := refreshTokenHash(s)
		if !ok {
			return
		}
		if !strings.HasPrefix(s, RefreshTokenPrefix) || (len(s) != refreshTokenLen && len(s) != legacyRefreshTokenLen) {
			t.Fatalf("accepted %q", s)
		}
		// What the store is asked for ends with the SHA-256 of exactly what
		// was presented, after the stamp the token carries (none for the
		// earlier format): newRefreshToken stores that, so nothing else
		// finds it.
		sum := sha256.Sum256([]byte(s))
		want := sum[:]
		if len(s) == refreshTokenLen {
			raw, _ := base64.RawURLEncoding.DecodeString(s[len(RefreshTokenPrefix):])
			want = append(raw[:refreshStampLen:refreshStampLen], sum[:]...)
		}
		if !bytes.Equal(h, want) {
			t.Fatalf("key of %q is %x, want %x", s, h, want)
		}
	})
}

func FuzzParseForm(f *testing.F) {
	f.Add("grant_type=client_credentials&scope=read")
	f.Add("a=1&a=2")
	f.Add("%zz=1")
	f.Add("=&&=")
	f.Add(strings.Repeat("x=1&", 50))
	f.Add(strings.Repeat("&", 70))
	f.Add("a=1;b=2")
	f.Add("a+b=c+d&e%20f=%41")
	f.Add("a=&a=1")
	f.Add("a&b&c")
	s := newTestServer()
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/oauth2/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		got, err := s.parseForm(httptest.NewRecorder(), r)
		// Whatever parses, parses as url.ParseQuery reads it, minus empty
		// values; and what url.ParseQuery reads without repeats parses.
		want, qerr := url.ParseQuery(body)
		repeated := false
		for _, v := range want {
			repeated = repeated || len(v) > 1
		}
		readable := qerr == nil && !repeated && strings.Count(body, "&") < maxFormParams && int64(len(body)) <= s.cfg.MaxBodyBytes
		if (err == nil) != readable {
			t.Fatalf("parseForm(%q): err = %v; url.ParseQuery: err = %v, repeated %v", body, err, qerr, repeated)
		}
		if err != nil {
			oe := asOAuthError(err)
			if oe.Code != "invalid_request" {
				t.Fatalf("error code %q", oe.Code)
			}
			if !utf8.ValidString(oe.Description) || strings.Contains(oe.Description, body) && len(body) > 40 {
				t.Fatalf("description reflects the body: %q", oe.Description)
			}
			return
		}
		for k, v := range got {
			if len(want[k]) != 1 || want[k][0] != v || v == "" {
				t.Fatalf("parameter %q = %q, query parses as %q", k, v, want[k])
			}
		}
		for k, v := range want {
			if v[0] != "" && got[k] != v[0] {
				t.Fatalf("parameter %q missing; query parses as %q", k, v)
			}
		}
	})
}

// FuzzAppendJSONString holds the hand-written JSON of the token endpoint to
// what encoding/json writes, for any string.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"uote`, `back\slash`, "<&>", "\x00\x1f\x7f", "é", "\xff", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("appendJSONString(%q) = %s, want x%s", s, got, want)
		}
	})
}

// newTestServer is a server with defaults and no stores, for parser tests.
func newTestServer() *server {
	return &server{cfg: Config{}.withDefaults()}
}
