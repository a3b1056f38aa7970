package idp

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestJWKSURIMaxAgeHeader(t *testing.T) {
	for _, tc := range []struct {
		cc, age string
		want    time.Duration
	}{
		{"", "", jwksURIDefault},
		{"max-age=120", "", 120 * time.Second},
		{"public, max-age=600", "100", 500 * time.Second},
		{"max-age=60", "100", 0},
		{"no-store", "", 0},
		{"max-age=junk", "", jwksURIDefault},
		{`max-age="30"`, "", 30 * time.Second},
	} {
		h := http.Header{}
		if tc.cc != "" {
			h.Set("Cache-Control", tc.cc)
		}
		if tc.age != "" {
			h.Set("Age", tc.age)
		}
		if got := maxAge(h); got != tc.want {
			t.Errorf("Cache-Control %q Age %q: %s, want %s", tc.cc, tc.age, got, tc.want)
		}
	}
}

func FuzzCheckJWKSURI(f *testing.F) {
	for _, s := range []string{"https://a.example/j", "http://127.0.0.1/j", "http://a.example/j", "http://[::1]:1/", "https://u@a/", "//a/b", "http://127.0.0.1.example/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckJWKSURI(s) != nil {
			return
		}
		u, err := url.Parse(s)
		switch {
		case len(s) > maxJWKSURILen:
			t.Fatalf("%q: too long but accepted", s)
		case err != nil || u.Host == "" || u.User != nil:
			t.Fatalf("%q accepted", s)
		case u.Scheme != "https" && (u.Scheme != "http" || !isLoopbackHost(u.Hostname())):
			t.Fatalf("%q: plain http to a non-loopback host accepted", s)
		}
	})
}
