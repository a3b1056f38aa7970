package idp_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rotor-idp/rotor/idp"
)

// The attacks of issue 9 on browser sign-in, each a named test, run as an
// attacker would: real HTTP, bursts released together.

// TestAttackRedirectURIMismatch: every near miss of a registered redirect
// URI is an error page, never a redirect; at the token endpoint a code is
// refused with a redirect_uri other than the request's.
func TestAttackRedirectURIMismatch(t *testing.T) {
	e := newEnv(t)
	secret := e.webClient(idp.ClientSpec{ID: "web", FirstParty: true, RedirectURIs: []string{webRedirect, "http://127.0.0.1/native"}})
	e.user("alice", alicePW)
	for _, uri := range []string{
		"https://app.example/c",                    // prefix
		"https://app.example/cb/extra",             // suffix
		"https://app.example/cbx",                  // suffix
		"https://app.example/cb/../evil",           // path traversal
		"https://app.example/cb/%2e%2e/evil",       // encoded traversal
		"https://app.example:8443/cb",              // another port, not loopback
		"https://app.example@evil.example/cb",      // userinfo
		"https://evil.example@app.example/cb",      // userinfo before the host
		"https://app.example/cb#frag",              // fragment
		"https://app.example/cb?x=1",               // query
		"https://APP.example/cb",                   // case
		"https://app.example/cb/",                  // trailing slash
		"http://app.example/cb",                    // scheme
		"https://app.example.evil.example/cb",      // host suffix
		"http://localhost/native",                  // loopback by name
		"http://127.0.0.1:8080/native/../evil",     // loopback with traversal
		"http://127.0.0.1:99999/native",            // loopback, not a port
		"http://127.0.0.1:0/native",                // loopback, port 0
		"http://[::1]/native",                      // the other loopback address
		"https://app.example/cb\x00",               // NUL
		" https://app.example/cb",                  // space
		"https://app.example/cb%20",                // encoded space
		"//app.example/cb",                         // scheme-relative
		"javascript:alert(1)//https://app.example", // script
	} {
		t.Run(uri, func(t *testing.T) {
			r := e.browser().authorize(authzParams("web", "redirect_uri", uri))
			if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
				t.Fatalf("got %d Location %q, want the error page", r.status, r.header.Get("Location"))
			}
		})
	}
	t.Run("token endpoint", func(t *testing.T) {
		code := e.browser().signIn(t, "web", "alice", alicePW)
		wantError(t, e.exchange("web", secret, code, testVerifier, "https://app.example/cb/"), 400, "invalid_grant")
		// The failed check used the code up.
		wantError(t, e.exchange("web", secret, code, testVerifier, webRedirect), 400, "invalid_grant")
	})
}

// TestAttackIssAlwaysPresent: state is the client's business (echoed when
// sent, absent when not), but iss is in every authorization response, codes
// and errors alike (RFC 9207), so a client can tell which server answered.
func TestAttackIssAlwaysPresent(t *testing.T) {
	e := newEnv(t)
	e.webClient(idp.ClientSpec{ID: "web", FirstParty: true})
	e.user("alice", alicePW)
	b := e.browser()
	for name, r := range map[string]response{
		"code without state":  b.submitLogin(b.authorize(authzParams("web", "state", "")), "alice", alicePW),
		"code with state":     b.authorize(authzParams("web")),
		"error without state": e.browser().authorize(authzParams("web", "state", "", "prompt", "none")),
		"error with state":    e.browser().authorize(authzParams("web", "response_type", "token")),
	} {
		t.Run(name, func(t *testing.T) {
			q := r.redirect(t)
			if q.Get("iss") != e.url {
				t.Errorf("iss %q in %v", q.Get("iss"), q)
			}
			if wantState := strings.Contains(name, "with state"); q.Has("state") != wantState {
				t.Errorf("state present = %v, want %v", q.Has("state"), wantState)
			}
		})
	}
}

// TestAttackLoginCSRF: a login form posted without the token the page
// carried, with a wrong one, with another browser's, with one for another
// request, or a stale one, is refused with the 403 page and signs nobody in.
// A burst of forged posts changes nothing either.
func TestAttackLoginCSRF(t *testing.T) {
	e := newEnv(t)
	e.webClient(idp.ClientSpec{ID: "web", FirstParty: true})
	e.user("mallory", alicePW)
	victim := e.browser()
	page := victim.authorize(authzParams("web"))
	_, good := page.form(t)
	otherPage := victim.authorize(authzParams("web", "state", "other"))
	_, other := otherPage.form(t)
	attacker := e.browser()
	_, attackers := attacker.authorize(authzParams("web")).form(t)

	post := func(b *browser, f url.Values) response {
		f = cloneValues(f)
		f.Set("username", "mallory")
		f.Set("password", alicePW)
		return b.post("/login", f)
	}
	tests := []struct {
		name string
		send func() response
	}{
		{"no token", func() response { f := cloneValues(good); f.Del("csrf_token"); return post(victim, f) }},
		{"wrong token", func() response {
			f := cloneValues(good)
			f.Set("csrf_token", "1700000000.AAAA")
			return post(victim, f)
		}},
		{"another browser's token", func() response { return post(victim, attackers) }},
		{"token of another request", func() response {
			f := cloneValues(good)
			f.Set("csrf_token", other.Get("csrf_token"))
			return post(victim, f)
		}},
		{"no cookie (a cross-site post)", func() response { return post(e.browser(), good) }},
		{"stale token", func() response {
			e.clock.Advance(2 * time.Hour)
			defer e.clock.Advance(-2 * time.Hour)
			return post(victim, good)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.send()
			if r.status != http.StatusForbidden || r.header.Get("Location") != "" || !strings.Contains(string(r.raw), `role="alert"`) {
				t.Fatalf("got %d %q, want the 403 page:\n%s", r.status, r.header.Get("Location"), r.raw)
			}
			wantHTMLHeaders(t, r)
			if victim.sessionCookie(t) != "" {
				t.Fatal("the forged login set a session")
			}
		})
	}
	t.Run("burst", func(t *testing.T) {
		got := tally(burst(20, func(i int) response {
			f := cloneValues(good)
			f.Set("csrf_token", fmt.Sprintf("%d.forged%d", e.clock.Now().Unix(), i))
			return post(victim, f)
		}))
		if diff := cmp.Diff(map[string]int{"403 ": 20}, got); diff != "" {
			t.Errorf("answers (-want +got):\n%s", diff)
		}
		if victim.sessionCookie(t) != "" {
			t.Fatal("a forged login set a session")
		}
	})
	// The genuine form still works.
	if q := post(victim, good).redirect(t); q.Get("code") == "" {
		t.Errorf("the genuine form: %v", q)
	}
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// TestAttackSessionFixation: a session cookie planted in the victim's
// browser before the login, whether made up or the attacker's own session,
// is replaced at the login and never becomes the victim's session.
func TestAttackSessionFixation(t *testing.T) {
	e := newEnv(t)
	secret := e.webClient(idp.ClientSpec{ID: "web", FirstParty: true})
	victimUser := e.user("alice", alicePW)
	mallory := e.user("mallory", alicePW)
	u, _ := url.Parse(e.url)

	attacker := e.browser()
	attacker.signIn(t, "web", "mallory", alicePW)
	for name, planted := range map[string]string{
		"made-up value":              "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"the attacker's own session": attacker.sessionCookie(t),
	} {
		t.Run(name, func(t *testing.T) {
			victim := e.browser()
			victim.jar.SetCookies(u, []*http.Cookie{{Name: idp.SessionCookie, Value: planted, Path: "/"}})
			code := victim.signIn(t, "web", "alice", alicePW, "prompt", "login")
			if got := victim.sessionCookie(t); got == planted || got == "" {
				t.Fatalf("session cookie after the login = planted value %v", got == planted)
			}
			tok := e.exchange("web", secret, code, testVerifier, webRedirect)
			if _, id := e.verifyIDToken(tok.str("id_token")); id["sub"] != victimUser.ID {
				t.Errorf("the victim's tokens are for %v", id["sub"])
			}
			// The planted value signs nobody in as the victim.
			thief := e.browser()
			thief.jar.SetCookies(u, []*http.Cookie{{Name: idp.SessionCookie, Value: planted, Path: "/"}})
			r := thief.authorize(authzParams("web", "prompt", "none"))
			q := r.redirect(t)
			if c := q.Get("code"); c != "" {
				tok := e.exchange("web", secret, c, testVerifier, webRedirect)
				if _, id := e.verifyIDToken(tok.str("id_token")); id["sub"] != mallory.ID {
					t.Errorf("the planted cookie is now signed in as %v", id["sub"])
				}
			}
		})
	}
}

// TestAttackClickjackingHeaders: no page may be framed.
func TestAttackClickjackingHeaders(t *testing.T) {
	e := newEnv(t)
	e.webClient(idp.ClientSpec{ID: "web"})
	e.user("alice", alicePW)
	b := e.browser()
	login := b.authorize(authzParams("web"))
	consent := b.submitLogin(login, "alice", alicePW)
	logout := b.get("/oauth2/logout")
	for name, r := range map[string]response{"login": login, "consent": consent, "logout": logout, "error": b.authorize(authzParams("x"))} {
		if !strings.Contains(r.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || r.header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s page can be framed: %v", name, r.header)
		}
	}
}

// TestAttackScriptEscaped: markup in a username, a login hint, a client name
// or request parameters reaches a page only escaped, and error descriptions
// never echo the request.
func TestAttackScriptEscaped(t *testing.T) {
	e := newEnv(t)
	const xss = `"><script>alert(1)</script>`
	e.webClient(idp.ClientSpec{ID: "web", Name: "Evil <script>alert(2)</script> App"})
	e.user("alice", alicePW)
	b := e.browser()
	pages := map[string]response{
		"login hint":     b.authorize(authzParams("web", "login_hint", xss)),
		"username":       b.submitLogin(b.authorize(authzParams("web")), xss, "wrong password"),
		"state":          b.authorize(authzParams("web", "state", xss)),
		"nonce":          b.authorize(authzParams("web", "nonce", xss)),
		"unknown client": b.authorize(authzParams(xss)),
		"bad redirect":   b.authorize(authzParams("web", "redirect_uri", "https://evil.example/"+xss)),
	}
	for name, r := range pages {
		t.Run(name, func(t *testing.T) {
			body := string(r.raw)
			if strings.Contains(body, "<script") {
				t.Fatalf("unescaped markup in the page:\n%s", body)
			}
		})
	}
	if !strings.Contains(string(pages["username"].raw), "&lt;script&gt;") && !strings.Contains(string(pages["login hint"].raw), "&lt;script&gt;") {
		t.Error("the username was not echoed, escaped")
	}
	q := e.browser().authorize(authzParams("web", "response_type", xss)).redirect(t)
	if strings.Contains(q.Get("error_description"), "script") {
		t.Errorf("error_description echoes the request: %q", q.Get("error_description"))
	}
}

// TestAttackOpenRedirectPostLogout: logout never redirects to a URI that is
// not registered for the client it names.
func TestAttackOpenRedirectPostLogout(t *testing.T) {
	e := newEnv(t)
	secret := e.webClient(idp.ClientSpec{ID: "web", FirstParty: true})
	e.user("alice", alicePW)
	_, tok := signedIn(t, e, secret)
	for _, uri := range []string{"https://evil.example/", webRedirect, webLogout + "/x", webLogout + "?next=evil", "https://app.example@evil.example/signed-out", "//evil.example"} {
		for name, q := range map[string]url.Values{
			"with client_id": {"client_id": {"web"}, "post_logout_redirect_uri": {uri}},
			"with a hint":    {"id_token_hint": {tok.str("id_token")}, "post_logout_redirect_uri": {uri}},
		} {
			t.Run(name+" "+uri, func(t *testing.T) {
				b, _ := signedIn(t, e, secret)
				r := b.get("/oauth2/logout?" + q.Encode())
				if r.header.Get("Location") != "" || r.status != http.StatusBadRequest {
					t.Fatalf("got %d Location %q, want the error page", r.status, r.header.Get("Location"))
				}
			})
		}
	}
	t.Run("no client to check against", func(t *testing.T) {
		r := e.browser().get("/oauth2/logout?" + url.Values{"post_logout_redirect_uri": {webLogout}}.Encode())
		if r.header.Get("Location") != "" {
			t.Errorf("redirected to %q without a client", r.header.Get("Location"))
		}
	})
}

// TestAttackPromptNoneWithoutSession: prompt=none never shows a page; with
// no session it answers login_required.
func TestAttackPromptNoneWithoutSession(t *testing.T) {
	e := newEnv(t)
	e.webClient(idp.ClientSpec{ID: "web", FirstParty: true})
	q := e.browser().authorize(authzParams("web", "prompt", "none")).redirect(t)
	if q.Get("error") != "login_required" || q.Get("iss") != e.url || q.Get("state") != "st-123" {
		t.Errorf("got %v", q)
	}
}

// TestAttackBruteForceThroughForm: the login form and the password grant
// share one throttle: a burst of wrong passwords through both at once
// hashes at most the account's limit.
func TestAttackBruteForceThroughForm(t *testing.T) {
	e := newEnv(t, func(c *idp.Config) {
		c.Throttle = idp.ThrottleConfig{AccountBurst: 10, AddressBurst: 1000, Window: time.Hour}
		c.HashWait = time.Minute
	})
	e.webClient(idp.ClientSpec{ID: "web", FirstParty: true})
	pw := e.client(idp.ClientSpec{ID: "legacy", GrantTypes: []string{"password"}, Scopes: []string{"read"}})
	e.user("alice", alicePW)
	b := e.browser()
	_, f := b.authorize(authzParams("web")).form(t)

	before := e.hooks.Verifications()
	rs := burst(60, func(i int) response {
		if i%2 == 0 {
			return e.login("legacy", pw, "alice", fmt.Sprintf("guess %d", i))
		}
		g := cloneValues(f)
		g.Set("username", "alice")
		g.Set("password", fmt.Sprintf("guess %d", i))
		return b.post("/login", g)
	})
	if n := e.hooks.Verifications() - before; n != 10 {
		t.Errorf("%d passwords hashed, the limit is 10", n)
	}
	var form, grant map[int]int = map[int]int{}, map[int]int{}
	for i, r := range rs {
		if i%2 == 0 {
			grant[r.status]++
		} else {
			form[r.status]++
			if r.status == http.StatusTooManyRequests && r.header.Get("Retry-After") == "" {
				t.Error("429 page without Retry-After")
			}
			if !strings.Contains(r.header.Get("Content-Type"), "text/html") {
				t.Errorf("the form got %q, want a page", r.header.Get("Content-Type"))
			}
		}
	}
	if form[400]+grant[400] != 10 || form[429]+grant[429] != 50 {
		t.Errorf("form answers %v, grant answers %v; want 10 refusals and 50 throttled in all", form, grant)
	}
	// The throttled page is the login form again, with the message.
	g := cloneValues(f)
	g.Set("username", "alice")
	g.Set("password", alicePW)
	r := b.post("/login", g)
	if r.status != http.StatusTooManyRequests || !strings.Contains(string(r.raw), "Too many failed sign-in attempts") {
		t.Errorf("after the burst: %d", r.status)
	}
}
