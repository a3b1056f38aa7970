package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
)

// The browser sign-in scenarios (issue 9): a user who is already signed in
// (session cookie, no password) signs in to an app: GET /oauth2/authorize →
// 303 with a code → POST /oauth2/token with the code and the PKCE verifier →
// an access token and an ID token, both EdDSA (signin/EdDSA), and a refresh
// token too, for an app that may use them (signin-offline/EdDSA). One
// request of a scenario is that whole flow, two HTTP requests. The server
// CPU of signin/EdDSA is held to at most twice that of one EdDSA
// refresh_token grant measured in the same run.

const (
	signinRedirect = "http://127.0.0.1/cb" // never contacted: the 303 is read, not followed
	signinVerifier = "rotor-load-pkce-verifier-rotor-load-pkce-verifier"
)

var (
	signinMu      sync.Mutex
	signinSecrets = map[string]string{}
	hiddenRE      = regexp.MustCompile(`<input type="hidden" name="(request|csrf_token)" value="([^"]*)">`)
)

// signinScenarios returns the sign-in scenarios on d.
func signinScenarios(d *deployment, client *http.Client) []scenario {
	var out []scenario
	for _, sc := range []struct{ name, client, grants string }{
		{"signin/EdDSA", "signin-EdDSA", "authorization_code"},
		{"signin-offline/EdDSA", "signin-offline-EdDSA", "authorization_code,refresh_token"},
	} {
		out = append(out, scenario{name: sc.name, alg: "EdDSA", signs: true, server: d.rotor,
			worker: func(ctx context.Context) (func(context.Context) (int, error), error) {
				secret, err := signinClientSecret(d, sc.client, sc.grants)
				if err != nil {
					return nil, err
				}
				return signinWorker(ctx, d, client, sc.client, secret)
			}})
	}
	return out
}

// signinClientSecret registers a scenario's client once: first-party (no
// consent page), EdDSA tokens.
func signinClientSecret(d *deployment, id, grants string) (string, error) {
	signinMu.Lock()
	defer signinMu.Unlock()
	if s, ok := signinSecrets[id]; ok {
		return s, nil
	}
	out, err := d.cli("", "clients", "add", id, "--grant-types", grants,
		"--scopes", "schedules:read", "--audience", audience, "--token-alg", "EdDSA", "--first-party",
		"--redirect-uris", signinRedirect, "--json")
	if err != nil {
		return "", err
	}
	var v struct {
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		return "", fmt.Errorf("clients add printed %q", out)
	}
	signinSecrets[id] = v.Secret
	return v.Secret, nil
}

// signinWorker signs the load user in once through the login form, in a
// browser of its own (a cookie jar), and returns the flow that reuses the
// session.
func signinWorker(ctx context.Context, d *deployment, shared *http.Client, clientID, secret string) (func(context.Context) (int, error), error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: shared.Transport, Timeout: shared.Timeout, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	sum := sha256.Sum256([]byte(signinVerifier))
	authorize := d.rotor.url + "/oauth2/authorize?" + url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {signinRedirect},
		"scope": {"openid schedules:read"}, "state": {"load"}, "nonce": {"load"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}.Encode()

	page, err := do(ctx, c, http.MethodGet, authorize, nil)
	if err != nil {
		return nil, fmt.Errorf("login page: %w", err)
	}
	form := url.Values{"username": {user}, "password": {password}}
	for _, m := range hiddenRE.FindAllStringSubmatch(page.body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	login, err := do(ctx, c, http.MethodPost, d.rotor.url+"/login", form)
	if err != nil || login.status != http.StatusSeeOther {
		return nil, fmt.Errorf("login through the form: %d %v", login.status, err)
	}
	exchange := func(ctx context.Context, location string) (int, error) {
		u, err := url.Parse(location)
		if err != nil || u.Query().Get("code") == "" {
			return 0, fmt.Errorf("authorize answered %q", location)
		}
		form := url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")},
			"code_verifier": {signinVerifier}, "redirect_uri": {signinRedirect}}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.rotor.url+"/oauth2/token", strings.NewReader(form.Encode()))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(clientID, secret)
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		var tok struct {
			IDToken string `json:"id_token"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode == http.StatusOK && tok.IDToken == "" {
			return resp.StatusCode, fmt.Errorf("token answer without an ID token: %v", err)
		}
		return resp.StatusCode, nil
	}
	if status, err := exchange(ctx, login.location); err != nil || status != http.StatusOK {
		return nil, fmt.Errorf("first exchange: %d %v", status, err)
	}
	return func(ctx context.Context) (int, error) {
		r, err := do(ctx, c, http.MethodGet, authorize, nil)
		if err != nil {
			return 0, err
		}
		if r.status != http.StatusSeeOther {
			return r.status, nil
		}
		return exchange(ctx, r.location)
	}, nil
}

type answer struct {
	status   int
	location string
	body     string
}

func do(ctx context.Context, c *http.Client, method, u string, form url.Values) (answer, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return answer{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return answer{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(b)}, err
}

// signinTarget prints the target, server CPU per sign-in at most twice that
// of one EdDSA refresh in the same run, and the same ratio with a refresh
// token issued too.
func signinTarget(w io.Writer, check func(name, what string, ok bool, got string), byName map[string]result) {
	refresh, ok := byName["refresh_token/EdDSA"]
	if !ok || refresh.CPUPerRequest <= 0 {
		return
	}
	ratio := func(name string) (float64, bool) {
		r, ok := byName[name]
		return float64(r.CPUPerRequest) / float64(refresh.CPUPerRequest), ok
	}
	if x, ok := ratio("signin/EdDSA"); ok {
		check("signin/EdDSA", "signin EdDSA: server CPU ≤ 2× an EdDSA refresh", x <= 2, fmt.Sprintf("%.2f×", x))
	}
	if x, ok := ratio("signin-offline/EdDSA"); ok {
		fmt.Fprintf(w, "  %-58s %-10s %s\n", "signin-offline EdDSA (with a refresh token): × a refresh", fmt.Sprintf("%.2f×", x), "(no target)")
	}
}
