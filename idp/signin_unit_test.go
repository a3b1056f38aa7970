package idp

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rotor-idp/rotor/keys"
)

func TestFormToken(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	k := formKeys{keys: [][]byte{[]byte("key one, 32 bytes long.........."), []byte("key two, 32 bytes long..........")}}
	b := formBinding{purpose: purposeLogin, cookie: "cookie", sessionID: "s1", request: "client_id=web"}
	tok := k.mint(b, now)
	if !k.check(tok, b, now.Add(formTokenTTL)) {
		t.Fatal("a fresh token does not check")
	}
	// Minted with the old primary, checked by a server that has a new one
	// in front (a KEK rotation rolling out).
	rotated := formKeys{keys: [][]byte{[]byte("a new primary key, 32 bytes....."), k.keys[0]}}
	if !rotated.check(tok, b, now) {
		t.Error("a token does not check under a set that still has its key")
	}
	other := func(f func(*formBinding)) formBinding { c := b; f(&c); return c }
	for name, tt := range map[string]struct {
		tok string
		b   formBinding
		now time.Time
	}{
		"other purpose":     {tok, other(func(c *formBinding) { c.purpose = purposeConsent }), now},
		"other cookie":      {tok, other(func(c *formBinding) { c.cookie = "cookie2" }), now},
		"no cookie":         {tok, other(func(c *formBinding) { c.cookie = "" }), now},
		"other session":     {tok, other(func(c *formBinding) { c.sessionID = "s2" }), now},
		"other request":     {tok, other(func(c *formBinding) { c.request = "client_id=evil" }), now},
		"boundary shift":    {tok, other(func(c *formBinding) { c.cookie, c.sessionID = "cookies", "1" }), now},
		"stale":             {tok, b, now.Add(formTokenTTL + time.Second)},
		"from the future":   {tok, b, now.Add(-2 * time.Minute)},
		"issued-at changed": {"1800000001" + tok[10:], b, now},
		"leading zero":      {"0" + tok, b, now},
		"mac changed":       {tok[:len(tok)-2] + "AA", b, now},
		"empty":             {"", b, now},
		"no dot":            {strings.ReplaceAll(tok, ".", ""), b, now},
		"other keys":        {tok, b, now},
		"too long":          {tok + strings.Repeat("A", 100), b, now},
		"padded":            {tok + "=", b, now},
		"signed by key two": {formKeys{keys: [][]byte{[]byte("unrelated key, 32 bytes........."), []byte("x")}}.mint(b, now), b, now},
	} {
		t.Run(name, func(t *testing.T) {
			keys := k
			if name == "other keys" {
				keys = formKeys{keys: [][]byte{[]byte("unrelated key, 32 bytes.........")}}
			}
			if keys.check(tt.tok, tt.b, tt.now) {
				t.Error("checked")
			}
		})
	}
}

func TestCSPSource(t *testing.T) {
	for in, want := range map[string]string{
		"https://app.example/cb":          "https://app.example",
		"https://app.example:8443/cb?x=1": "https://app.example:8443",
		"http://127.0.0.1:53124/cb":       "http://127.0.0.1:53124",
		"http://[::1]:8080/cb":            "http://[::1]:8080",
		"com.example.app:/cb":             "com.example.app:",
		"https://app.example;/cb":         "",
		"https://app.example'/cb":         "",
		"https://APP.example/cb":          "",
		"":                                "",
		"::":                              "",
	} {
		if got := cspSource(in); got != want {
			t.Errorf("cspSource(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPKCE(t *testing.T) {
	// RFC 7636 Appendix B.
	const verifier, challenge = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	if !pkceMatch(verifier, challenge) || !validChallenge(challenge) || !validVerifier(verifier) {
		t.Fatal("the RFC 7636 example does not match")
	}
	for _, bad := range []string{challenge[:42], challenge + "A", strings.ToLower(challenge), verifier, ""} {
		if pkceMatch(verifier, bad) {
			t.Errorf("matched challenge %q", bad)
		}
	}
	for v, want := range map[string]bool{
		strings.Repeat("a", 42): false, strings.Repeat("a", 43): true, strings.Repeat("~._-", 32): true,
		strings.Repeat("a", 129): false, strings.Repeat("a", 42) + "+": false, strings.Repeat("a", 42) + " ": false,
	} {
		if validVerifier(v) != want {
			t.Errorf("validVerifier(%q) = %v", v, !want)
		}
	}
}

// TestIDClaimsJSON holds appendJSON equal to what encoding/json writes.
func TestIDClaimsJSON(t *testing.T) {
	for _, c := range []idClaims{
		{Issuer: "https://id.example", Subject: "u1", Audience: "web", Expiry: 2, IssuedAt: 1, AuthTime: 1, AZP: "web"},
		{Issuer: "https://id.example", Subject: "u<1>&", Audience: "wéb", Expiry: 2, IssuedAt: 1, AuthTime: 0, AZP: "wéb",
			Nonce: "n\"\\\u2028", ATHash: "abc", SID: "s", AMR: []string{"pwd", "mfa"}},
	} {
		want, err := json.Marshal(&c)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), string(c.appendJSON(nil))); diff != "" {
			t.Errorf("(-encoding/json +appendJSON):\n%s", diff)
		}
	}
}

// TestTokenResponseIDToken holds the token response with an ID token equal
// to what encoding/json writes.
func TestTokenResponseIDToken(t *testing.T) {
	r := tokenResponse{AccessToken: "a.b.c", TokenType: "Bearer", ExpiresIn: 900, RefreshToken: "rtr_x", Scope: "openid", IDToken: "d.e.f"}
	want, err := json.Marshal(&r)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(r.appendJSON(nil))); diff != "" {
		t.Errorf("(-encoding/json +appendJSON):\n%s", diff)
	}
}

func TestATHash(t *testing.T) {
	// The access token and at_hash of OpenID Connect Core's examples
	// (Appendix A), RS256: the left half of SHA-256.
	const tok = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
	if got := atHash(keys.RS256, tok); got != "77QmUPtjPfzWtF2AnpK9RQ" {
		t.Errorf("RS256 at_hash %q", got)
	}
	if got := atHash(keys.EdDSA, tok); len(got) != 43 {
		t.Errorf("EdDSA at_hash %q: want the left half of SHA-512", got)
	}
}

func TestCarriedParams(t *testing.T) {
	q := url.Values{"state": {"s"}, "client_id": {"web"}, "extra": {"dropped"}, "scope": {""}}
	if got := carriedParams(q); got != "client_id=web&state=s" {
		t.Errorf("carriedParams = %q", got)
	}
}

// FuzzAuthzRequest checks that any query either gives a request whose
// fields are within Rotor's bounds, or an error whose description is plain
// fixed text.
func FuzzAuthzRequest(f *testing.F) {
	for _, seed := range []string{
		"response_type=code&client_id=web&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
		"response_type=code&code_challenge_method=plain&scope=openid+profile&prompt=none+login",
		"response_type=token&max_age=-1&state=%3Cscript%3E",
		"scope=openid%20%20read&prompt=select_account&nonce=x&login_hint=%00",
		"response_type=code&response_type=code",
		"%zz",
		"request=x&request_uri=y&response_mode=form_post",
	} {
		f.Add(seed)
	}
	c := Client{ID: "web", GrantTypes: []string{GrantAuthorizationCode, GrantRefreshToken}, Scopes: []string{"read"}, RedirectURIs: []string{"https://app.example/cb"}}
	f.Fuzz(func(t *testing.T, raw string) {
		q, e := parseAuthzQuery(raw)
		if e != nil {
			return
		}
		req := &authzRequest{client: c, maxAge: -1}
		if e := req.checkParams(q); e != nil {
			if e.desc == "" || len(e.desc) > 120 {
				t.Fatalf("error description %q", e.desc)
			}
			// Descriptions are fixed text: nothing the request chose
			// (markup, quotes, escapes, control bytes) can be in one.
			for _, c := range e.desc {
				if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(" _=(),.;-", c)) {
					t.Fatalf("error description %q has %q", e.desc, c)
				}
			}
			return
		}
		if !validChallenge(req.codeChallenge) || len(req.nonce) > maxNonceLen || len(req.loginHint) > maxLoginHintLen || req.maxAge < -1 {
			t.Fatalf("accepted a request out of bounds: %+v", req)
		}
		if req.prompt.none && (req.prompt.login || req.prompt.consent) {
			t.Fatal("prompt=none with others")
		}
	})
}
