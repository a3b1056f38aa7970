package dpop_test

import (
	"errors"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/dpop"
	"github.com/rotor-idp/rotor/internal/dpoptest"
)

func TestSameURI(t *testing.T) {
	tests := []struct {
		htu, uri string
		want     bool
	}{
		{"https://idp.example/oauth2/token", "https://idp.example/oauth2/token", true},
		{"HTTPS://IDP.example:443/oauth2/token", "https://idp.example/oauth2/token", true},
		{"http://127.0.0.1:80/t", "http://127.0.0.1/t", true},
		{"https://idp.example/oauth2/token?x=1#f", "https://idp.example/oauth2/token", true},
		{"https://idp.example/oauth2/token", "https://idp.example/oauth2/Token", false},
		{"https://idp.example/oauth2/token", "http://idp.example/oauth2/token", false},
		{"https://idp.example:8443/oauth2/token", "https://idp.example/oauth2/token", false},
		{"https://evil.example/oauth2/token", "https://idp.example/oauth2/token", false},
		{"https://user@idp.example/oauth2/token", "https://idp.example/oauth2/token", false},
		{"/oauth2/token", "https://idp.example/oauth2/token", false},
		{"https://idp.example", "https://idp.example/", true},
	}
	for _, tt := range tests {
		if got := dpop.SameURI(tt.htu, tt.uri); got != tt.want {
			t.Errorf("SameURI(%q, %q) = %v, want %v", tt.htu, tt.uri, got, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	p := dpoptest.New(t, "ES256")
	c := &dpop.Checker{}
	uri := "https://api.example/things"
	now := time.Now()
	proof := p.Proof(t, "GET", uri, "the-token", "n1")
	got, err := c.Check(proof, dpop.Request{Method: "GET", URI: uri, AccessToken: "the-token", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if got.JKT != p.JKT || got.Nonce != "n1" || got.JTI == "" || !got.Expires.After(now) {
		t.Errorf("proof %+v", got)
	}
	for name, tc := range map[string]struct {
		req  dpop.Request
		want error
	}{
		"WrongATH":    {dpop.Request{Method: "GET", URI: uri, AccessToken: "another-token", Now: now}, dpop.ErrAth},
		"WrongHTM":    {dpop.Request{Method: "POST", URI: uri, Now: now}, dpop.ErrMethod},
		"WrongHTU":    {dpop.Request{Method: "GET", URI: uri + "/x", Now: now}, dpop.ErrURI},
		"StaleIAT":    {dpop.Request{Method: "GET", URI: uri, Now: now.Add(2 * time.Minute)}, dpop.ErrIssuedAt},
		"FromFuture":  {dpop.Request{Method: "GET", URI: uri, Now: now.Add(-time.Minute)}, dpop.ErrIssuedAt},
		"MissingATH":  {dpop.Request{Method: "GET", URI: uri, AccessToken: "t", Now: now}, dpop.ErrAth},
		"NoToken":     {dpop.Request{Method: "GET", URI: uri, Now: now}, nil},
		"EmptyProof":  {dpop.Request{}, dpop.ErrMissing},
		"Unsupported": {dpop.Request{Method: "GET", URI: uri, Now: now}, dpop.ErrAlg},
	} {
		t.Run(name, func(t *testing.T) {
			pr, ck := proof, c
			switch name {
			case "EmptyProof":
				pr = ""
			case "MissingATH":
				pr = p.Proof(t, "GET", uri, "", "")
			case "Unsupported":
				ck = &dpop.Checker{Algs: []string{"EdDSA"}}
			}
			_, err := ck.Check(pr, tc.req)
			if !errors.Is(err, tc.want) {
				t.Errorf("Check = %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzCheck: no input makes Check panic or accept a proof it did not verify.
func FuzzCheck(f *testing.F) {
	p := dpoptest.New(f, "EdDSA")
	uri := "https://idp.example/oauth2/token"
	f.Add(p.Proof(f, "POST", uri, "", ""))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Add("")
	c := &dpop.Checker{}
	f.Fuzz(func(t *testing.T, proof string) {
		got, err := c.Check(proof, dpop.Request{Method: "POST", URI: uri, Now: time.Now()})
		if err == nil && got.JKT == "" {
			t.Errorf("accepted %q without a key", proof)
		}
	})
}
