package signin

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/rotor-idp/rotor/internal/browser"
)

// TestBrowser signs in with a real Chromium against a real rotor: the
// pages, their forms, cookies, CSP and redirects as a user's browser meets
// them. Each subtest starts its own browser (a fresh profile: no cookies).
func TestBrowser(t *testing.T) {
	browser.Require(t)
	rg := newRig(t)
	shots := screenshotDir(t)
	shot := func(t *testing.T, ctx context.Context, name string) {
		t.Helper()
		for _, scheme := range []string{"light", "dark"} {
			if err := browser.ColorScheme(ctx, scheme); err != nil {
				t.Fatal(err)
			}
			path, err := browser.Screenshot(ctx, shots, name+"-"+scheme)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot: %s", path)
			checkPage(t, ctx, name+" ("+scheme+")")
		}
		if err := browser.ColorScheme(ctx, "light"); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("sign in", func(t *testing.T) {
		ctx := browser.Start(t)
		c := browser.Bounded(t, ctx)
		run(t, c, chromedp.Navigate(rg.authorizeURL("web")), chromedp.WaitVisible(chromedp.ID("password")))
		shot(t, c, "login")
		signIn(t, c, "alice", alicePW)
		q := rg.landed(t, c)
		if q.Get("_path") != "/cb" || q.Get("state") != "st-web" || q.Get("iss") != rg.rotor.URL || q.Get("code") == "" {
			t.Fatalf("callback %v", q)
		}
		tok := rg.exchange("web", q.Get("code"))
		if tok.Status != 200 {
			t.Fatalf("exchange: %+v", tok)
		}
		id := rg.idToken("web", tok.IDToken, "n-web")
		var claims struct{ Sid string }
		if err := id.Claims(&claims); err != nil || claims.Sid == "" {
			t.Errorf("ID token sid: %v %v", claims, err)
		}
	})

	t.Run("wrong password shows the error", func(t *testing.T) {
		ctx := browser.Start(t)
		c := browser.Bounded(t, ctx)
		run(t, c, chromedp.Navigate(rg.authorizeURL("web")), chromedp.WaitVisible(chromedp.ID("password")))
		signIn(t, c, "alice", "not the password")
		run(t, c, chromedp.WaitVisible(chromedp.CSS(".alert")))
		a, err := browser.AlertRegion(c)
		if err != nil {
			t.Fatal(err)
		}
		if a.Role != "alert" || a.Label == "" || !strings.Contains(a.Text, "username or password is incorrect") || !a.BeforeOf {
			t.Errorf("alert region %+v: want role=alert, a label, the message, above the form", a)
		}
		shot(t, c, "login-error")
		// The same form, with the right password, goes through.
		run(t, c, chromedp.SendKeys(chromedp.ID("password"), alicePW), chromedp.Click(chromedp.CSS("button[type=submit]")))
		if q := rg.landed(t, c); q.Get("code") == "" {
			t.Errorf("after the retry: %v", q)
		}
	})

	t.Run("single sign-on and prompt=login", func(t *testing.T) {
		ctx := browser.Start(t)
		c := browser.Bounded(t, ctx)
		run(t, c, chromedp.Navigate(rg.authorizeURL("web")), chromedp.WaitVisible(chromedp.ID("password")))
		signIn(t, c, "alice", alicePW)
		rg.landed(t, c)
		// Another client: no page, straight back with a code.
		run(t, c, chromedp.Navigate(rg.authorizeURL("other")), chromedp.WaitVisible(chromedp.ID("rp")))
		q := rg.landed(t, c)
		if q.Get("code") == "" || q.Get("state") != "st-other" {
			t.Fatalf("SSO callback %v", q)
		}
		if tok := rg.exchange("other", q.Get("code")); tok.Status != 200 {
			t.Errorf("SSO exchange: %+v", tok)
		}
		// prompt=login asks for the password again.
		run(t, c, chromedp.Navigate(rg.authorizeURL("other", "prompt", "login")), chromedp.WaitVisible(chromedp.ID("password")))
		signIn(t, c, "alice", alicePW)
		if q := rg.landed(t, c); q.Get("code") == "" {
			t.Errorf("after prompt=login: %v", q)
		}
	})

	t.Run("consent allow and deny", func(t *testing.T) {
		ctx := browser.Start(t)
		c := browser.Bounded(t, ctx)
		run(t, c, chromedp.Navigate(rg.authorizeURL("third")), chromedp.WaitVisible(chromedp.ID("password")))
		signIn(t, c, "alice", alicePW)
		run(t, c, chromedp.WaitVisible(chromedp.CSS(`button[value=deny]`)))
		shot(t, c, "consent")
		run(t, c, chromedp.Click(chromedp.CSS(`button[value=deny]`)))
		q := rg.landed(t, c)
		if q.Get("error") != "access_denied" || q.Get("iss") != rg.rotor.URL || q.Get("state") != "st-third" {
			t.Fatalf("deny: %v", q)
		}
		run(t, c, chromedp.Navigate(rg.authorizeURL("third")), chromedp.WaitVisible(chromedp.CSS(`button[value=allow]`)))
		run(t, c, chromedp.Click(chromedp.CSS(`button[value=allow]`)))
		q = rg.landed(t, c)
		if tok := rg.exchange("third", q.Get("code")); tok.Status != 200 {
			t.Fatalf("allow: %v %+v", q, tok)
		}
		// Remembered: no consent page the next time.
		run(t, c, chromedp.Navigate(rg.authorizeURL("third")), chromedp.WaitVisible(chromedp.ID("rp")))
		if q := rg.landed(t, c); q.Get("code") == "" {
			t.Errorf("remembered consent: %v", q)
		}
	})

	t.Run("logout", func(t *testing.T) {
		ctx := browser.Start(t)
		c := browser.Bounded(t, ctx)
		run(t, c, chromedp.Navigate(rg.authorizeURL("web")), chromedp.WaitVisible(chromedp.ID("password")))
		signIn(t, c, "alice", alicePW)
		tok := rg.exchange("web", rg.landed(t, c).Get("code"))
		logout := rg.rotor.URL + "/oauth2/logout?id_token_hint=" + tok.IDToken +
			"&post_logout_redirect_uri=" + rg.rp.url + "/signed-out&state=bye"
		run(t, c, chromedp.Navigate(logout), chromedp.WaitVisible(chromedp.ID("rp")))
		if q := rg.landed(t, c); q.Get("_path") != "/signed-out" || q.Get("state") != "bye" {
			t.Fatalf("after logout: %v", q)
		}
		// Signed out: the next sign-in needs the password.
		run(t, c, chromedp.Navigate(rg.authorizeURL("web")), chromedp.WaitVisible(chromedp.ID("password")))
		// Without a hint, Rotor asks first.
		signIn(t, c, "alice", alicePW)
		rg.landed(t, c)
		run(t, c, chromedp.Navigate(rg.rotor.URL+"/oauth2/logout?client_id=web&post_logout_redirect_uri="+rg.rp.url+"/signed-out"),
			chromedp.WaitVisible(chromedp.CSS("button[type=submit]")))
		shot(t, c, "logout")
		run(t, c, chromedp.Click(chromedp.CSS("button[type=submit]")), chromedp.WaitVisible(chromedp.ID("rp")))
		if q := rg.landed(t, c); q.Get("_path") != "/signed-out" {
			t.Fatalf("after the confirmation: %v", q)
		}
		run(t, c, chromedp.Navigate(rg.authorizeURL("web")), chromedp.WaitVisible(chromedp.ID("password")))
	})

	t.Run("keyboard only", func(t *testing.T) {
		ctx := browser.Start(t)
		c := browser.Bounded(t, ctx)
		run(t, c, chromedp.Navigate(rg.authorizeURL("web")), chromedp.WaitVisible(chromedp.ID("password")))
		// The username field has the focus from the start (autofocus).
		if f, err := browser.Focused(c); err != nil || f.Name != "username" {
			t.Fatalf("focus at load: %+v %v", f, err)
		}
		run(t, c, chromedp.KeyEvent("alice"), chromedp.KeyEvent(kb.Tab))
		wantFocus(t, c, "password")
		run(t, c, chromedp.KeyEvent(alicePW), chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift)))
		wantFocus(t, c, "username")
		run(t, c, chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(kb.Tab))
		wantFocus(t, c, "button")
		run(t, c, chromedp.KeyEvent(kb.Enter))
		if q := rg.landed(t, c); q.Get("code") == "" {
			t.Errorf("keyboard sign-in: %v", q)
		}
		// Enter in the password field submits too.
		run(t, c, chromedp.Navigate(rg.authorizeURL("web", "prompt", "login")), chromedp.WaitVisible(chromedp.ID("password")))
		run(t, c, chromedp.KeyEvent("alice"), chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(alicePW), chromedp.KeyEvent(kb.Enter))
		if q := rg.landed(t, c); q.Get("code") == "" {
			t.Errorf("Enter in the password field: %v", q)
		}
	})

	t.Run("without JavaScript", func(t *testing.T) {
		ctx := browser.Start(t)
		if err := browser.DisableJavaScript(ctx); err != nil {
			t.Fatal(err)
		}
		c := browser.Bounded(t, ctx)
		run(t, c, chromedp.Navigate(rg.authorizeURL("third", "prompt", "consent")), chromedp.WaitVisible(chromedp.ID("password")))
		signIn(t, c, "alice", alicePW)
		run(t, c, chromedp.WaitVisible(chromedp.CSS(`button[value=allow]`)), chromedp.Click(chromedp.CSS(`button[value=allow]`)))
		q := rg.landed(t, c)
		if tok := rg.exchange("third", q.Get("code")); tok.Status != 200 {
			t.Fatalf("without JavaScript: %v %+v", q, tok)
		}
	})

	t.Run("phone", func(t *testing.T) {
		ctx := browser.Start(t)
		c := browser.Bounded(t, ctx)
		run(t, c, chromedp.EmulateViewport(360, 740, chromedp.EmulateScale(2), chromedp.EmulateMobile),
			chromedp.Navigate(rg.authorizeURL("third", "prompt", "consent")), chromedp.WaitVisible(chromedp.ID("password")))
		wantFits(t, c)
		signIn(t, c, "alice", "wrong")
		run(t, c, chromedp.WaitVisible(chromedp.CSS(".alert")))
		wantFits(t, c)
	})
}

// landed waits until the browser shows the relying party's page and returns
// the request that brought it there.
func (rg *rig) landed(t *testing.T, ctx context.Context) url.Values {
	t.Helper()
	q := rg.rp.next(t)
	run(t, ctx, chromedp.WaitVisible(chromedp.ID("rp")))
	return q
}

func run(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// signIn fills in the login form and submits it with the mouse.
func signIn(t *testing.T, ctx context.Context, user, pw string) {
	t.Helper()
	run(t, ctx,
		chromedp.SendKeys(chromedp.ID("username"), user),
		chromedp.SendKeys(chromedp.ID("password"), pw),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
	)
}

// wantFocus checks that name has the focus, with a visible focus ring.
func wantFocus(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	f, err := browser.Focused(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != name {
		t.Fatalf("focus on %q, want %q", f.Name, name)
	}
	if !f.FocusVisible || f.OutlineStyle == "none" || f.OutlineWidth <= 0 {
		t.Errorf("%s has no visible focus ring: %+v", name, f)
	}
}

// checkPage is the accessibility check of every page: every control has a
// label, and all text has a contrast of at least 4.5:1.
func checkPage(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	if bad, err := browser.Unlabelled(ctx); err != nil || len(bad) > 0 {
		t.Errorf("%s: controls without a label: %v %v", page, bad, err)
	}
	cs, err := browser.Contrasts(ctx)
	if err != nil || len(cs) == 0 {
		t.Fatalf("%s: contrast: %v (%d elements)", page, err, len(cs))
	}
	for _, c := range cs {
		if c.Ratio < 4.5 {
			t.Errorf("%s: %s %q has contrast %.2f:1, want at least 4.5:1", page, c.Element, c.Text, c.Ratio)
		}
	}
}

func wantFits(t *testing.T, ctx context.Context) {
	t.Helper()
	fits, w, err := browser.Viewport(ctx)
	if err != nil || !fits {
		t.Errorf("the page scrolls sideways on a phone (%d px wide): %v", w, err)
	}
}
