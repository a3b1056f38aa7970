package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
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
// python3-uvicorn, python3-flask, python3-authlib and python3-requests are
// installed for.
const debianPython = "/usr/bin/python3"

const pythonPackages = debianPython + " with python3-jwt, python3-cryptography, python3-fastapi, python3-uvicorn, python3-flask, python3-authlib and python3-requests"

func pythonReady() bool {
	return exec.Command(debianPython, "-c", "import jwt, cryptography, fastapi, uvicorn, flask, authlib, requests").Run() == nil
}

// TestPythonApps runs the FastAPI back end of examples/python against a
// live Rotor: it verifies Rotor's tokens with PyJWT's PyJWKClient, with no
// shared secret, refuses forgeries for the reason each forgery deserves,
// and checks scope per route with RFC 6750 answers. (The Flask front end
// has its own test, in Chromium: TestFlaskFrontEnd.)
//
// Two replicas share the issuer (a balancer in front): the API talks to one
// whose access tokens live 2s; the tokens the forgeries start from come
// from one whose tokens live an hour, so that no forgery is refused merely
// for having expired.
func TestPythonApps(t *testing.T) {
	requireEnv(t, pythonReady(), pythonPackages)
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
			write       bool   // POST /schedules (schedules:write) instead of GET
		}{
			{"RS256 user token", rs256, 200, "", "", false},
			{"EdDSA client token", ed, 200, "", "", false},
			{"no token", "", 401, "Bearer", "", false},
			{"token without the scope", rotor.ClientCredentials(t, "svc-none", noScope), 403, "insufficient_scope", "", false},
			{"the old shared-secret token", forgeHS256(t, rs256, "supersecret"), 401, "invalid_token", "algorithm not allowed", false},
			{"HS256 signed with Rotor's public key", forgeHS256(t, rs256, jwksBody(t, rotor.URL)), 401, "invalid_token", "algorithm not allowed", false},
			{"alg none", algNone(t, rs256), 401, "invalid_token", "algorithm not allowed", false},
			{"tampered claims", tamper(t, rs256), 401, "invalid_token", "InvalidSignatureError", false},
			{"refresh token as bearer", login.RefreshToken, 401, "invalid_token", "DecodeError", false},
			{"typ that is not a string", retype(t, rs256, `123`), 401, "invalid_token", "not an access token", false},
			{"typ that is an object", retype(t, rs256, `{"a":1}`), 401, "invalid_token", "not an access token", false},
			{"write with both scopes", rs256, 201, "", "", true},
			{"write with a read-only token", ed, 403, `error="insufficient_scope", scope="schedules:write"`, "", true},
			{"write without a token", "", 401, "Bearer", "", true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rejected := len(rejections(api.Output()))
				req, _ := http.NewRequest("GET", apiURL+"/schedules/20201209", nil)
				if tt.write {
					req, _ = http.NewRequest("POST", apiURL+"/schedules", strings.NewReader(`{"datetime":"20201210 210000","name":"Marine","title":"Karaoke"}`))
					req.Header.Set("Content-Type", "application/json")
				}
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
				if tt.status == 200 && !strings.Contains(string(body), `"result":2`) || tt.status == 201 && !strings.Contains(string(body), `"created_by"`) {
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

// retype replaces the header's typ with raw JSON and keeps the signature:
// the API must refuse it as a bad token, not fail on it.
func retype(t *testing.T, token, typ string) string {
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	var hdr map[string]json.RawMessage
	_ = json.Unmarshal(raw, &hdr)
	hdr["typ"] = json.RawMessage(typ)
	raw, _ = json.Marshal(hdr)
	parts[0] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}
