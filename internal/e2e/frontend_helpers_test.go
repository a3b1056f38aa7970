package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		t.Fatal(err)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(c, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// browserCookie is the front end's session cookie, as the browser holds it.
func browserCookie(t *testing.T, ctx context.Context, fe *frontEnd) *network.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{fe.url + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == fe.cookieName {
			if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax {
				t.Errorf("session cookie %+v: want HttpOnly and SameSite=Lax", c)
			}
			return c
		}
	}
	t.Fatalf("no %s cookie in %d cookies", fe.cookieName, len(res.Cookies))
	return nil
}

// burst sends 16 requests for the home page at once with the browser's
// session cookie; each must show the signed-in page.
func burst(t *testing.T, fe *frontEnd, c *network.Cookie) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for range 16 {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, fe.url+"/", nil)
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
			resp, err := noRedirect.Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "Alice Liddell") {
				errs <- fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("Location"))
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("request in the burst: %s", e)
	}
}

var noRedirect = &http.Client{Timeout: 60 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// wantNoTokenInCookie checks the session cookie holds no token: decoded
// when the front end's cookie has content (Flask's signed session), else a
// random 256-bit id and nothing else.
func wantNoTokenInCookie(t *testing.T, fe *frontEnd, c *network.Cookie, tok storedTokens) {
	t.Helper()
	content := c.Value
	if fe.cookie != nil {
		content = fe.cookie(t, c.Value)
		var claims map[string]any
		if err := json.Unmarshal([]byte(content), &claims); err != nil || len(claims) != 1 || claims["sid"] == nil {
			t.Errorf("the session cookie holds %s, want only a session id", content)
		}
	} else if b, err := base64.RawURLEncoding.DecodeString(c.Value); err != nil || len(b) != 32 {
		t.Errorf("the session cookie holds %q, want a random 256-bit id (base64url) and nothing else", c.Value)
	}
	secrets := []string{tok.AccessToken, tok.RefreshToken}
	if fe.cookie != nil { // JSON: no JWT, no refresh token, no field named for one
		secrets = append(secrets, "eyJ", "rtr_", "refresh", "access", "id_token")
	}
	for _, secret := range secrets {
		if strings.Contains(content, secret) {
			t.Errorf("the session cookie holds %q: %s", secret, content)
		}
	}
}
