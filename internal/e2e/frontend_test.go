package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/rotor-idp/rotor/internal/browser"
	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/internal/proctest"
	"github.com/rotor-idp/rotor/internal/rotortest"
)

const alicePassword = "correct horse battery staple"

// signInRig is Rotor (debug logs, short-lived access tokens) with a user and
// a first-party web client whose redirect URIs are loopback ones (any port),
// and the schedules API a front end calls.
type signInRig struct {
	d      *rotortest.Deployment
	rotor  *rotortest.Replica
	secret string // of client "web"
}

// accessTTL is long enough for a page to load on a busy machine with time
// to spare before the front end's refresh margin, short enough that the
// scenario waits for expiry three times in well under a minute.
const accessTTL = 8 * time.Second

func newSignInRig(t *testing.T) *signInRig {
	t.Helper()
	browser.Require(t)
	d := rotortest.New(t, pgtest.NewDatabase(t))
	secret := d.AddClient("web", "--grant-types", "authorization_code,refresh_token", "--scopes", "schedules:read schedules:write",
		"--audience", audience, "--redirect-uris", "http://127.0.0.1/callback", "--post-logout-redirect-uris", "http://127.0.0.1/signed-out",
		"--first-party", "--name", "Schedules")
	d.MustRunBinary(alicePassword+"\n", "users", "add", "alice", "--email", "alice@example.com", "--email-verified", "--display-name", "Alice Liddell")
	return &signInRig{d: d, secret: secret, rotor: d.Serve("rotor", "--log-level", "debug", "--access-token-ttl", accessTTL.String())}
}

// frontEnd is a running front end under test: its URL, its process (for
// its log) and the directory its server-side session store writes to.
type frontEnd struct {
	url        string
	proc       *proctest.Proc
	sessionDir string
	cookieName string // the session cookie's
	// cookie decodes the session cookie's value, when it is more than an
	// opaque id.
	cookie func(t *testing.T, value string) string
}

var tokenOKRE = regexp.MustCompile(`msg=request method=POST path=/oauth2/token status=200`)

// tokenGrants counts the token endpoint's successful answers in Rotor's
// log: after the sign-in, each one is a refresh.
func (rg *signInRig) tokenGrants() int { return len(tokenOKRE.FindAllString(rg.rotor.Output(), -1)) }

// storedTokens is the one signed-in session in a front end's server-side
// store.
type storedTokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// sessions reads the signed-in sessions from the store's directory.
func (fe *frontEnd) sessions(t *testing.T) []storedTokens {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(fe.sessionDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []storedTokens
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // removed meanwhile
		}
		var s storedTokens
		if json.Unmarshal(b, &s) == nil && s.RefreshToken != "" {
			out = append(out, s)
		}
	}
	return out
}

// session is the only signed-in session.
func (fe *frontEnd) session(t *testing.T) storedTokens {
	t.Helper()
	ss := fe.sessions(t)
	if len(ss) != 1 {
		t.Fatalf("%d signed-in sessions in the store, want 1", len(ss))
	}
	return ss[0]
}

// tokenExpiry is the exp of a JWT, unverified (the test only times its
// waits with it).
func tokenExpiry(t *testing.T, token string) time.Time {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct{ Exp int64 }
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return time.Unix(c.Exp, 0)
}

// waitPast sleeps until the access token has expired: the wait is for
// time itself to pass, not for another process.
func waitPast(t *testing.T, exp time.Time) {
	t.Helper()
	time.Sleep(time.Until(exp.Add(time.Second)))
}

// atRotorLogin waits for Rotor's login page.
func (rg *signInRig) atRotorLogin(t *testing.T, ctx context.Context) {
	t.Helper()
	do(t, ctx, chromedp.WaitVisible(chromedp.ID("password")))
	if loc := location(t, ctx); !strings.HasPrefix(loc, rg.rotor.URL+"/") {
		t.Fatalf("password field at %s, want Rotor's login page", loc)
	}
}

func signInAs(t *testing.T, ctx context.Context) {
	t.Helper()
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), alicePassword),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		// The front end's page: Rotor's pages have no #schedules (but do
		// have a #username, the login form's).
		chromedp.WaitVisible(chromedp.ID("schedules")),
	)
}

// wantHome checks the signed-in page: the user and a schedule the front
// end fetched from the API with the access token.
func wantHome(t *testing.T, ctx context.Context, fe *frontEnd, when string) {
	t.Helper()
	if loc := location(t, ctx); !strings.HasPrefix(loc, fe.url+"/") {
		t.Fatalf("%s: at %s, want the front end", when, loc)
	}
	if u, n, s := text(t, ctx, "#preferred-username"), text(t, ctx, "#name"), text(t, ctx, "#schedules"); u != "alice" || n != "Alice Liddell" || !strings.Contains(s, "Polka") {
		t.Fatalf("%s: user %q, name %q, schedules %q", when, u, n, s)
	}
}

// runSignInScenario is the story a user lives through, in headless
// Chromium against real processes: sign in at Rotor, stay signed in across
// an expired access token (one refresh) and a forced key rotation, lose the
// session when a stolen refresh token is replayed, sign in again, sign out
// everywhere.
func runSignInScenario(t *testing.T, rg *signInRig, fe *frontEnd, shot func(ctx context.Context)) {
	ctx := browser.Start(t)

	t.Log("open the front end: Rotor's login page")
	do(t, ctx, chromedp.Navigate(fe.url+"/"))
	rg.atRotorLogin(t, ctx)
	signInAs(t, ctx)
	wantHome(t, ctx, fe, "after sign-in")
	if shot != nil {
		shot(ctx)
	}
	first := fe.session(t)
	wantNoTokenInCookie(t, fe, browserCookie(t, ctx, fe), first)

	t.Log("the access token expires: one refresh, still signed in")
	waitPast(t, tokenExpiry(t, first.AccessToken))
	before := rg.tokenGrants()
	do(t, ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("schedules")))
	wantHome(t, ctx, fe, "after the access token expired")
	proctest.Await(t, 10*time.Second, "Rotor to log the refresh", func() bool { return rg.tokenGrants() > before })
	if n := rg.tokenGrants() - before; n != 1 {
		t.Errorf("%d token grants for one reload after expiry, want 1 refresh", n)
	}
	second := fe.session(t)
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Fatal("the stored tokens did not change with the refresh")
	}

	t.Log("rotor keys rotate --force: the next token is signed by the new key, still signed in")
	var rotated []keyRotation
	if err := json.Unmarshal([]byte(rg.d.MustRunBinary("", "keys", "rotate", "--force", "--json")), &rotated); err != nil {
		t.Fatal(err)
	}
	waitPast(t, tokenExpiry(t, second.AccessToken))
	// The page's requests come at once (tabs, a reload during a load):
	// the front end must refresh once, not spend the same refresh token
	// in each, which Rotor would take for theft and revoke the family.
	before = rg.tokenGrants()
	burst(t, fe, browserCookie(t, ctx, fe))
	proctest.Await(t, 10*time.Second, "Rotor to log the refresh", func() bool { return rg.tokenGrants() > before })
	if n := rg.tokenGrants() - before; n != 1 {
		t.Errorf("%d token grants for a burst of requests after expiry, want 1 refresh", n)
	}
	do(t, ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("schedules")))
	wantHome(t, ctx, fe, "after the key rotation")
	third := fe.session(t)
	kid := rotortest.KID(t, third.AccessToken)
	if !slices.ContainsFunc(rotated, func(r keyRotation) bool { return r.Current == kid }) {
		t.Errorf("the token after the rotation has kid %s, want one of the new current keys %+v", kid, rotated)
	}

	t.Log("a stolen, spent refresh token is replayed: Rotor revokes the family; the next reload asks for the password")
	tr, err := rotortest.Token(http.DefaultClient, rg.rotor.URL, "web", rg.secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}})
	if err != nil || tr.Status != http.StatusBadRequest || tr.Error != "invalid_grant" {
		t.Fatalf("replay: %v %+v", err, tr)
	}
	waitPast(t, tokenExpiry(t, third.AccessToken))
	do(t, ctx, chromedp.Reload())
	rg.atRotorLogin(t, ctx)
	if n := len(fe.sessions(t)); n != 0 {
		t.Errorf("%d signed-in sessions left after the refused refresh, want 0", n)
	}
	signInAs(t, ctx)
	wantHome(t, ctx, fe, "after signing in again")

	t.Log("sign out: back to the start, and Rotor's session is gone too")
	do(t, ctx, chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("signed-out")))
	if loc := location(t, ctx); !strings.HasPrefix(loc, fe.url+"/signed-out") {
		t.Errorf("after sign-out at %s", loc)
	}
	if n := len(fe.sessions(t)); n != 0 {
		t.Errorf("%d signed-in sessions left after sign-out, want 0", n)
	}
	do(t, ctx, chromedp.Click(chromedp.ID("signin")))
	rg.atRotorLogin(t, ctx)
}

// forgedState starts a sign-in with a plain HTTP client and returns to the
// callback with a state the front end did not send: it must refuse, before
// any code is redeemed. It returns the session cookie the front end set.
func forgedState(t *testing.T, fe *frontEnd, cookieName string) *http.Cookie {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(fe.url + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Query().Get("state") == "" || loc.Query().Get("code_challenge_method") != "S256" || loc.Query().Get("nonce") == "" {
		t.Fatalf("/login: %d %s", resp.StatusCode, loc)
	}
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == cookieName {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie %q: %+v", cookieName, resp.Cookies())
	}
	for _, state := range []string{"forged", "", loc.Query().Get("state") + "x"} {
		resp, err = c.Get(fe.url + "/callback?" + url.Values{"code": {"stolen-code"}, "state": {state}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("callback with state %q: %d, want 400", state, resp.StatusCode)
		}
	}
	return cookie
}
