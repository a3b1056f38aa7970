package main

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDemoSignIn follows the sign-in URL `make run` prints, as a browser
// without JavaScript would: Rotor's login page, the demo user's password,
// and the demo's page with the tokens; then its sign-out link.
func TestDemoSignIn(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rotor-data")
	p, _ := embedded(t, "demo", dir)
	out := p.WaitOutput(t, regexp.MustCompile(`(?s)(password\s+\S+.*Sign in with a browser[^\n]*\n\s+\S+)`), 10*time.Second)
	password := regexp.MustCompile(`password\s+(\S+)`).FindStringSubmatch(out)[1]
	start := regexp.MustCompile(`Sign in with a browser[^\n]*\n\s+(\S+)`).FindStringSubmatch(out)[1]

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(u string) (*http.Response, string) {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, page := get(start)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Sign in to continue to Rotor demo") {
		t.Fatalf("the printed URL led to %d:\n%s", resp.StatusCode, page)
	}
	form := url.Values{"username": {"demo"}, "password": {password}}
	for _, m := range regexp.MustCompile(`name="(request|csrf_token)" value="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	action := resp.Request.URL.ResolveReference(&url.URL{Path: "/login"})
	resp, err := c.PostForm(action.String(), form)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page = string(b)
	for _, want := range []string{"Rotor demo: Signed in", "Access token (RFC 9068)", `&#34;typ&#34;: &#34;at&#43;jwt&#34;`, "ID token (OpenID Connect)", `&#34;email&#34;: &#34;demo@example.com&#34;`, "Sign out of Rotor"} {
		if !strings.Contains(page, want) {
			t.Errorf("the demo page lacks %q:\n%s", want, page)
		}
	}
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != demoCallbackPath {
		t.Fatalf("ended on %d %s", resp.StatusCode, resp.Request.URL)
	}
	logout := html.UnescapeString(regexp.MustCompile(`href="([^"]*/oauth2/logout[^"]*)"`).FindStringSubmatch(page)[1])
	resp, page = get(logout)
	if resp.Request.URL.Path != demoSignedOutPath || !strings.Contains(page, "You have signed out") {
		t.Errorf("sign-out ended on %s:\n%s", resp.Request.URL, page)
	}
	// Signed out: the next sign-in asks for the password again.
	if _, page := get(start); !strings.Contains(page, `name="password"`) {
		t.Error("after signing out, the demo signed in without a password")
	}
}
