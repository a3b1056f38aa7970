package idp

import (
	"encoding/base64"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

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
	tok, hash := newRefreshToken()
	if !strings.HasPrefix(tok, RefreshTokenPrefix) || len(tok) != refreshTokenLen {
		t.Fatalf("token shape: %q", tok)
	}
	got, ok := refreshTokenHash(tok)
	if !ok || string(got) != string(hash) {
		t.Fatal("hash of a fresh token does not match")
	}
	for _, bad := range []string{"", tok[:len(tok)-1], "xyz_" + tok[4:], tok[:10] + "!" + tok[11:], tok + "A"} {
		if _, ok := refreshTokenHash(bad); ok {
			t.Errorf("accepted malformed token %q", bad)
		}
	}
}
