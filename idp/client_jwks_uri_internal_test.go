package idp

import (
	"net/url"
	"testing"
)

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
