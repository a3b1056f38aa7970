package idp_test

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/rotor-idp/rotor/idp"
)

// The browser sign-in as an HTTP client sees it: a cookie jar, redirects not
// followed (the redirect URIs point nowhere), pages read for their forms.

const (
	webRedirect  = "https://app.example/cb"
	webLogout    = "https://app.example/signed-out"
	alicePW      = "alice's long password"
	testVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" // RFC 7636 Appendix B
)

// webClient registers a client for the code flow and returns its secret.
// Unset fields get: grants authorization_code and refresh_token, scope
// read, the redirect URIs above, first-party.
func (e *env) webClient(spec idp.ClientSpec) string {
	e.t.Helper()
	if spec.GrantTypes == nil {
		spec.GrantTypes = []string{idp.GrantAuthorizationCode, idp.GrantRefreshToken}
	}
	if spec.Scopes == nil {
		spec.Scopes = []string{"read"}
	}
	if spec.RedirectURIs == nil {
		spec.RedirectURIs = []string{webRedirect}
	}
	if spec.PostLogoutRedirectURIs == nil {
		spec.PostLogoutRedirectURIs = []string{webLogout}
	}
	return e.client(spec)
}

// browser is one user agent: its own cookies.
type browser struct {
	e   *env
	c   *http.Client
	jar *cookiejar.Jar
}

func (e *env) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &browser{e: e, jar: jar, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (b *browser) do(req *http.Request) response {
	b.e.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, raw: raw}
}

func (b *browser) get(path string) response {
	b.e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.e.url+path, nil)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) response {
	b.e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.e.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// authzParams is a valid request for client with the test verifier.
func authzParams(client string, extra ...string) url.Values {
	q := url.Values{
		"response_type": {"code"}, "client_id": {client}, "redirect_uri": {webRedirect},
		"state": {"st-123"}, "code_challenge": {challengeOf(testVerifier)}, "code_challenge_method": {"S256"},
		"scope": {"openid profile email read"}, "nonce": {"n-456"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			q.Del(extra[i])
		} else {
			q.Set(extra[i], extra[i+1])
		}
	}
	return q
}

func challengeOf(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (b *browser) authorize(q url.Values) response {
	b.e.t.Helper()
	return b.get("/oauth2/authorize?" + q.Encode())
}

var (
	inputRE  = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)
	actionRE = regexp.MustCompile(`<form method="post" action="([^"]+)">`)
)

// form returns a page's form action and hidden fields.
func (r response) form(t testing.TB) (string, url.Values) {
	t.Helper()
	m := actionRE.FindSubmatch(r.raw)
	if m == nil {
		t.Fatalf("no form in the page (%d):\n%s", r.status, r.raw)
	}
	f := url.Values{}
	for _, in := range inputRE.FindAllSubmatch(r.raw, -1) {
		f.Set(string(in[1]), html.UnescapeString(string(in[2])))
	}
	return html.UnescapeString(string(m[1])), f
}

// submitLogin fills in the login form of page and posts it.
func (b *browser) submitLogin(page response, user, pw string) response {
	b.e.t.Helper()
	action, f := page.form(b.e.t)
	if action != "/login" {
		b.e.t.Fatalf("form action %q, want the login form:\n%s", action, page.raw)
	}
	f.Set("username", user)
	f.Set("password", pw)
	return b.post(action, f)
}

// submitConsent answers the consent form of page.
func (b *browser) submitConsent(page response, decision string) response {
	b.e.t.Helper()
	action, f := page.form(b.e.t)
	if action != "/consent" {
		b.e.t.Fatalf("form action %q, want the consent form:\n%s", action, page.raw)
	}
	f.Set("decision", decision)
	return b.post(action, f)
}

// redirect parses the Location of a 303 to the client.
func (r response) redirect(t testing.TB) url.Values {
	t.Helper()
	if r.status != http.StatusSeeOther {
		t.Fatalf("status %d, want a 303 to the client:\n%s", r.status, r.raw)
	}
	u, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// signIn runs authorize, and the login if the browser has no session, and
// returns the code (for a first-party client).
func (b *browser) signIn(t testing.TB, client, user, pw string, extra ...string) string {
	t.Helper()
	r := b.authorize(authzParams(client, extra...))
	if r.status == http.StatusOK {
		r = b.submitLogin(r, user, pw)
	}
	q := r.redirect(t)
	if q.Get("code") == "" {
		t.Fatalf("no code in %v", q)
	}
	return q.Get("code")
}

// exchange redeems a code at the token endpoint.
func (e *env) exchange(client, secret, code, verifier, redirectURI string) response {
	e.t.Helper()
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}}
	if redirectURI != "" {
		f.Set("redirect_uri", redirectURI)
	}
	if secret == "" {
		f.Set("client_id", client)
		return e.post("/oauth2/token", f)
	}
	return e.post("/oauth2/token", f, basicAuth(client, secret))
}
