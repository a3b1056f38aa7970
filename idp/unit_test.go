package idp

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseScope(t *testing.T) {
	tests := []struct {
		in     string
		want   []string
		wantOK bool
	}{
		{"", nil, true},
		{"read", []string{"read"}, true},
		{"read write read", []string{"read", "write"}, true},
		{"schedules:read a/b", []string{"schedules:read", "a/b"}, true},
		{" read", nil, false},
		{"read  write", nil, false},
		{"read ", nil, false},
		{`re"ad`, nil, false},
		{`re\ad`, nil, false},
		{"réad", nil, false},
		{"read\twrite", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseScope(tt.in)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if diff := cmp.Diff(tt.want, got); ok && diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestGrantScope(t *testing.T) {
	allowed := []string{"read", "write"}
	tests := []struct {
		name, requested string
		want            []string
		wantErr         bool
	}{
		{"none requested gets everything allowed", "", allowed, false},
		{"subset", "write", []string{"write"}, false},
		{"outside", "read admin", nil, true},
		{"malformed", "read  write", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := grantScope(tt.requested, allowed)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				if oe := asOAuthError(err); oe.Code != "invalid_scope" {
					t.Errorf("code = %q, want invalid_scope", oe.Code)
				}
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestEtagMatches(t *testing.T) {
	tests := []struct {
		header string
		want   bool
	}{
		{"", false},
		{`"abc"`, true},
		{`W/"abc"`, true},
		{`"x", "abc"`, true},
		{`*`, true},
		{`"abcd"`, false},
	}
	for _, tt := range tests {
		if got := etagMatches(tt.header, `"abc"`); got != tt.want {
			t.Errorf("etagMatches(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

func TestAudienceJSON(t *testing.T) {
	one, _ := audience{"api"}.MarshalJSON()
	two, _ := audience{"a", "b"}.MarshalJSON()
	if string(one) != `"api"` || string(two) != `["a","b"]` {
		t.Fatalf("marshal: %s %s", one, two)
	}
	var a audience
	if err := a.UnmarshalJSON([]byte(`"x"`)); err != nil || len(a) != 1 || a[0] != "x" {
		t.Fatalf("unmarshal string: %v %v", a, err)
	}
	if err := a.UnmarshalJSON([]byte(`["x","y"]`)); err != nil || len(a) != 2 {
		t.Fatalf("unmarshal array: %v %v", a, err)
	}
	if err := a.UnmarshalJSON([]byte(`3`)); err == nil {
		t.Fatal("unmarshal number: no error")
	}
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func TestClientCredentialsParsing(t *testing.T) {
	tests := []struct {
		name     string
		auth     []string
		form     form
		want     credentials
		wantCode string
	}{
		{name: "basic", auth: []string{basic("app", "s3cr:t")}, want: credentials{id: "app", secret: "s3cr:t", basic: true}},
		{name: "basic with form-encoded id", auth: []string{basic("a b", "x")}, want: credentials{id: "a b", secret: "x", basic: true}},
		{name: "body", form: form{"client_id": "app", "client_secret": "x"}, want: credentials{id: "app", secret: "x"}},
		{name: "public client id only", form: form{"client_id": "app"}, want: credentials{id: "app"}},
		{name: "basic and body secret", auth: []string{basic("app", "x")}, form: form{"client_secret": "x"}, wantCode: "invalid_request"},
		{name: "basic and other client_id", auth: []string{basic("app", "x")}, form: form{"client_id": "evil"}, wantCode: "invalid_request"},
		{name: "two Authorization headers", auth: []string{basic("a", "b"), basic("c", "d")}, wantCode: "invalid_request"},
		{name: "bearer scheme", auth: []string{"Bearer abc"}, wantCode: "invalid_client"},
		{name: "bad base64", auth: []string{"Basic !!!"}, wantCode: "invalid_client"},
		{name: "no colon", auth: []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("app"))}, wantCode: "invalid_client"},
		{name: "secret without id", form: form{"client_secret": "x"}, wantCode: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/oauth2/token", nil)
			for _, a := range tt.auth {
				r.Header.Add("Authorization", a)
			}
			if tt.form == nil {
				tt.form = form{}
			}
			got, err := clientCredentials(r, tt.form)
			if tt.wantCode != "" {
				if oe := asOAuthError(err); err == nil || oe.Code != tt.wantCode {
					t.Fatalf("err = %v, want %s", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(credentials{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRefreshTokenHash(t *testing.T) {
	now := time.Date(2026, 12, 8, 3, 0, 0, 123e6, time.UTC)
	tok, hash := newRefreshToken(now)
	if !strings.HasPrefix(tok, RefreshTokenPrefix) || len(tok) != refreshTokenLen {
		t.Fatalf("token shape: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok[len(RefreshTokenPrefix):])
	if err != nil || len(raw)-refreshStampLen < 32 {
		t.Fatalf("token %q carries fewer than 256 random bits", tok)
	}
	sum := sha256.Sum256([]byte(tok))
	wantKey := append([]byte{0, 0, 0, 0, 0, 0}, sum[:]...)
	binary.BigEndian.PutUint16(wantKey[0:2], uint16(now.UnixMilli()>>32))
	binary.BigEndian.PutUint32(wantKey[2:6], uint32(now.UnixMilli()))
	if !bytes.Equal(hash, wantKey) {
		t.Fatalf("store key %x, want the issue stamp and the SHA-256 %x", hash, wantKey)
	}
	got, ok := refreshTokenHash(tok)
	if !ok || string(got) != string(hash) {
		t.Fatal("hash of a fresh token does not match")
	}
	for _, bad := range []string{"", tok[:len(tok)-1], "xyz_" + tok[4:], tok[:10] + "!" + tok[11:], tok + "A",
		tok[:legacyRefreshTokenLen-1] + "!"} {
		if _, ok := refreshTokenHash(bad); ok {
			t.Errorf("accepted malformed token %q", bad)
		}
	}
}

// A token of the earlier format (32 random bytes, keyed by its SHA-256
// alone) is still found where it was stored.
func TestLegacyRefreshTokenHash(t *testing.T) {
	legacy := RefreshTokenPrefix + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	got, ok := refreshTokenHash(legacy)
	if sum := sha256.Sum256([]byte(legacy)); !ok || !bytes.Equal(got, sum[:]) {
		t.Fatalf("legacy token: key %x, %v; want its SHA-256 %x", got, ok, sum)
	}
}

// Keys and family ids sort by time, in bytes and as text, so the store's
// indexes grow at one end.
func TestRefreshKeysSortByTime(t *testing.T) {
	t0 := time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)
	var prevKey []byte
	prevID := ""
	for i := range 200 {
		now := t0.Add(time.Duration(i*i*i+i) * time.Millisecond) // carries across every byte of the stamp's low three
		_, key := newRefreshToken(now)
		id := newFamilyID(now)
		if len(id) != 26 || strings.Trim(id, "0123456789abcdefghijklmnopqrstuv") != "" {
			t.Fatalf("family id %q: want 26 characters of lower-case base32hex", id)
		}
		if prevKey != nil && (bytes.Compare(prevKey, key) >= 0 || prevID >= id) {
			t.Fatalf("at %v: key %x after %x, id %q after %q: not increasing", now, key, prevKey, id, prevID)
		}
		prevKey, prevID = key, id
	}
}

// The token endpoint writes its JSON by hand; it must be what encoding/json
// writes for the same values.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	claims := map[string]accessClaims{
		"one audience, no auth_time": {Issuer: "https://idp.example", Subject: "svc", Audience: audience{"api"}, Expiry: 1800000900, IssuedAt: 1800000000, JTI: "j", ClientID: "svc", Scope: "read write"},
		"two audiences, auth_time":   {Issuer: "http://127.0.0.1:8080", Subject: "u<1>", Audience: audience{"a", "b&c"}, Expiry: 2, IssuedAt: 1, AuthTime: 1, JTI: "j", ClientID: "web", Scope: "x"},
		"no scope, odd characters":   {Issuer: "i\"ss", Subject: "s\\ub", Audience: audience{"é\u2028"}, Expiry: -1, IssuedAt: 0, JTI: "", ClientID: "c\x01"},
		"nil audience":               {Issuer: "i", Subject: "s", JTI: "j", ClientID: "c"},
		"DPoP-bound":                 {Issuer: "i", Subject: "s", Audience: audience{"a"}, JTI: "j", ClientID: "c", Scope: "x", Cnf: &cnf{JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}},
	}
	for name, c := range claims {
		t.Run("claims/"+name, func(t *testing.T) {
			want, err := json.Marshal(&c)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(c.appendJSON(nil))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	responses := map[string]tokenResponse{
		"access token only": {AccessToken: "a.b.c", TokenType: "Bearer", ExpiresIn: 900},
		"everything":        {AccessToken: "a.b.c", TokenType: "Bearer", ExpiresIn: 900, RefreshToken: "rtr_x", Scope: "read write"},
	}
	for name, r := range responses {
		t.Run("response/"+name, func(t *testing.T) {
			want, err := json.Marshal(&r)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(r.appendJSON(nil))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseFormBody(t *testing.T) {
	tests := []struct {
		body     string
		want     form
		wantDesc string
	}{
		{body: "grant_type=client_credentials&scope=read+write", want: form{"grant_type": "client_credentials", "scope": "read write"}},
		{body: "a%3Db=c%26d&&e", want: form{"a=b": "c&d"}},
		{body: "", want: form{}},
		{body: "a=1&a=2", wantDesc: "parameter a is repeated"},
		{body: "a=&a=2", wantDesc: "parameter a is repeated"},
		{body: "a=1;b=2", wantDesc: "malformed form body"},
		{body: "a=%zz", wantDesc: "malformed form body"},
		{body: strings.Repeat("a&", maxFormParams), wantDesc: "too many parameters"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			got, err := parseFormBody(tt.body)
			if tt.wantDesc != "" {
				if oe := asOAuthError(err); err == nil || oe.Code != "invalid_request" || oe.Description != tt.wantDesc {
					t.Fatalf("err = %v, want invalid_request: %s", err, tt.wantDesc)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
