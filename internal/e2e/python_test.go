package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/internal/proctest"
	"github.com/rotor-idp/rotor/internal/rotortest"
)

// debianPython is the interpreter Debian's python3-jwt, python3-fastapi,
// python3-uvicorn and python3-flask are installed for.
const debianPython = "/usr/bin/python3"

func pythonReady() bool {
	return exec.Command(debianPython, "-c", "import jwt, cryptography, fastapi, uvicorn, flask").Run() == nil
}

// TestPythonApps runs the FastAPI back end and the Flask front end of
// examples/python against a live Rotor: they verify Rotor's tokens with
// PyJWT's PyJWKClient, with no shared secret, refuse forgeries for the
// reason each forgery deserves, and the front end keeps a user logged in
// across an expired access token with the refresh token.
//
// Two replicas share the issuer (a balancer in front): the apps talk to one
// whose access tokens live 2s, so that the front end's refresh happens
// soon; the tokens the forgeries start from come from one whose tokens live
// an hour, so that no forgery is refused merely for having expired.
func TestPythonApps(t *testing.T) {
	requireEnv(t, pythonReady(), debianPython+" with python3-jwt, python3-cryptography, python3-fastapi, python3-uvicorn and python3-flask")
	d := rotortest.New(t, pgtest.NewDatabase(t))
	lb := newBalancer(t)
	d.Env["ROTOR_ISSUER"] = lb.URL()
	const aud = "https://schedules.example"
	webSecret := d.AddClient("web", "--grant-types", "password,refresh_token", "--scopes", "schedules:read schedules:write", "--audience", aud)
	edSecret := d.AddClient("svc-ed", "--grant-types", "client_credentials", "--scopes", "schedules:read", "--audience", aud, "--token-alg", "EdDSA")
	noScope := d.AddClient("svc-none", "--grant-types", "client_credentials", "--scopes", "other", "--audience", aud)
	d.MustRunBinary("correct horse battery staple\n", "users", "add", "alice")
	rotor := d.Serve("rotor", "--access-token-ttl", "1h")
	lb.set(d.Serve("rotor-short", "--access-token-ttl", "2s"))

	dir := repoPath(t, "examples/python")
	pyEnv := []string{"ROTOR_ISSUER=" + lb.URL(), "ROTOR_AUDIENCE=" + aud, "ROTOR_LEEWAY=0", "PYTHONPATH=" + dir, "PYTHONDONTWRITEBYTECODE=1"}
	apiPort := freePort(t)
	api := proctest.Start(t, "fastapi", debianPython, []string{"-m", "uvicorn", "fastapi_app:app", "--host", "127.0.0.1", "--port", apiPort}, pyEnv...)
	apiURL := "http://127.0.0.1:" + apiPort
	proctest.WaitReady(t, apiURL+"/healthz", 60*time.Second)
	webPort := freePort(t)
	web := proctest.Start(t, "flask", debianPython, []string{dir + "/flask_app.py"},
		append(pyEnv, "PORT="+webPort, "ROTOR_CLIENT_ID=web", "ROTOR_CLIENT_SECRET="+webSecret, "SCHEDULES_API="+apiURL)...)
	webURL := "http://127.0.0.1:" + webPort
	proctest.WaitReady(t, webURL+"/healthz", 60*time.Second)

	t.Run("FastAPI verifies Rotor tokens through the JWKS", func(t *testing.T) {
		login, err := rotortest.Token(http.DefaultClient, rotor.URL, "web", webSecret,
			url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"correct horse battery staple"}})
		if err != nil || login.Status != 200 {
			t.Fatalf("login: %v %+v", err, login)
		}
		rs256 := login.AccessToken
		ed := rotor.ClientCredentials(t, "svc-ed", edSecret)
		tests := []struct {
			name, token string
			status      int
			challenge   string
			reason      string // what the API logs as the reason it refused the token
		}{
			{"RS256 user token", rs256, 200, "", ""},
			{"EdDSA client token", ed, 200, "", ""},
			{"no token", "", 401, "Bearer", ""},
			{"token without the scope", rotor.ClientCredentials(t, "svc-none", noScope), 403, "insufficient_scope", ""},
			{"the old shared-secret token", forgeHS256(t, rs256, "supersecret"), 401, "invalid_token", "algorithm not allowed"},
			{"HS256 signed with Rotor's public key", forgeHS256(t, rs256, jwksBody(t, rotor.URL)), 401, "invalid_token", "algorithm not allowed"},
			{"alg none", algNone(t, rs256), 401, "invalid_token", "algorithm not allowed"},
			{"tampered claims", tamper(t, rs256), 401, "invalid_token", "InvalidSignatureError"},
			{"refresh token as bearer", login.RefreshToken, 401, "invalid_token", "DecodeError"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rejected := len(rejections(api.Output()))
				req, _ := http.NewRequest("GET", apiURL+"/schedules/20201209", nil)
				if tt.token != "" {
					req.Header.Set("Authorization", "Bearer "+tt.token)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.status || !strings.Contains(resp.Header.Get("WWW-Authenticate"), tt.challenge) {
					t.Fatalf("%d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
				}
				if tt.status == 200 && !strings.Contains(string(body), `"result":2`) {
					t.Errorf("body %s", body)
				}
				if tt.reason == "" {
					return
				}
				proctest.Await(t, 10*time.Second, "the API to log why it refused the token", func() bool {
					return len(rejections(api.Output())) > rejected
				})
				if got := rejections(api.Output())[rejected]; got != tt.reason {
					t.Errorf("refused because %q, want %q", got, tt.reason)
				}
			})
		}
	})

	t.Run("Flask logs in through Rotor and refreshes an expired token", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		get := func(path string) (int, string, string) {
			resp, err := browser.Get(webURL + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, resp.Header.Get("Location"), string(b)
		}
		if status, loc, _ := get("/schedules/20201209"); status != 302 || !strings.HasSuffix(loc, "/login") {
			t.Fatalf("not logged in: %d %q", status, loc)
		}
		resp, err := browser.PostForm(webURL+"/login", url.Values{"username": {"alice"}, "password": {"wrong password"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("wrong password: %d", resp.StatusCode)
		}
		resp, err = browser.PostForm(webURL+"/login", url.Values{"username": {"alice"}, "password": {"correct horse battery staple"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 302 {
			t.Fatalf("login: %d", resp.StatusCode)
		}
		status, _, body := get("/schedules/20201209")
		if status != 200 || !strings.Contains(body, `"result":2`) {
			t.Fatalf("schedules through Flask: %d %s", status, body)
		}
		var me struct{ Exp, Now int64 }
		_, _, raw := get("/me")
		if err := json.Unmarshal([]byte(raw), &me); err != nil {
			t.Fatalf("/me: %s", raw)
		}
		// The access token lives 2s: let it expire (the wait is for time
		// itself to pass, not for another process).
		refreshed := strings.Count(web.Output(), "access token refreshed")
		time.Sleep(time.Until(time.Unix(me.Exp+1, 0)))
		status, loc, body := get("/schedules/20201209")
		if status != 200 {
			t.Fatalf("after the access token expired: %d %q %s (want the refresh token to keep the user logged in)", status, loc, body)
		}
		proctest.Await(t, 10*time.Second, "the front end to log a refresh after the expiry", func() bool {
			return strings.Count(web.Output(), "access token refreshed") > refreshed
		})
		var after struct{ Exp int64 }
		_, _, raw = get("/me")
		if err := json.Unmarshal([]byte(raw), &after); err != nil || after.Exp <= me.Exp {
			t.Errorf("/me after the refresh: %s (exp before: %d)", raw, me.Exp)
		}
	})
}

var rejectionRE = regexp.MustCompile(`token rejected: (.*)`)

// rejections lists the reasons the FastAPI app logged for refusing tokens,
// in order.
func rejections(log string) []string {
	var out []string
	for _, m := range rejectionRE.FindAllStringSubmatch(log, -1) {
		out = append(out, strings.TrimSpace(m[1]))
	}
	return out
}

// jwksBody fetches the JWKS, the "public key" of the classic HS256/RS256
// confusion attack.
func jwksBody(t *testing.T, base string) string {
	resp, err := http.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// forgeHS256 re-signs a token's claims with HS256 and secret, as anyone
// holding the old shared secret could.
func forgeHS256(t *testing.T, token, secret string) string {
	_, rest, _ := strings.Cut(token, ".")
	payload, _, _ := strings.Cut(rest, ".")
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"at+jwt","kid":"` + rotortest.KID(t, token) + `"}`))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(hdr + "." + payload))
	return hdr + "." + payload + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func algNone(t *testing.T, token string) string {
	_, rest, _ := strings.Cut(token, ".")
	payload, _, _ := strings.Cut(rest, ".")
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + payload + "."
}

// tamper widens the scope in the payload and keeps the signature.
func tamper(t *testing.T, token string) string {
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	_ = json.Unmarshal(raw, &claims)
	claims["scope"] = "schedules:read schedules:write admin"
	raw, _ = json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}
