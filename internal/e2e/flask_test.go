package e2e

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/browser"
	"github.com/rotor-idp/rotor/internal/proctest"
)

// TestFlaskFrontEnd runs examples/python as its README does, three
// processes on loopback: Rotor, the FastAPI back end under uvicorn and the
// Flask front end on Authlib, through the whole sign-in story in Chromium.
// The screenshot of the signed-in page goes to ROTOR_SCREENSHOT_DIR when
// set (docs/).
func TestFlaskFrontEnd(t *testing.T) {
	requireEnv(t, pythonReady(), pythonPackages)
	rg := newSignInRig(t)
	dir := repoPath(t, "examples/python")
	pyEnv := []string{"ROTOR_ISSUER=" + rg.rotor.URL, "ROTOR_AUDIENCE=" + audience, "PYTHONPATH=" + dir, "PYTHONDONTWRITEBYTECODE=1"}
	apiPort := freePort(t)
	proctest.Start(t, "fastapi", debianPython, []string{"-m", "uvicorn", "fastapi_app:app", "--host", "127.0.0.1", "--port", apiPort}, pyEnv...)
	apiURL := "http://127.0.0.1:" + apiPort
	proctest.WaitReady(t, apiURL+"/healthz", 60*time.Second)

	webPort, sessions := freePort(t), t.TempDir()
	p := proctest.Start(t, "flask", debianPython, []string{dir + "/flask_app.py"}, append(pyEnv,
		"PORT="+webPort, "ROTOR_CLIENT_ID=web", "ROTOR_CLIENT_SECRET="+rg.secret, "SCHEDULES_API="+apiURL,
		"SESSION_DIR="+sessions, "REFRESH_MARGIN=1", "FLASK_SECRET_KEY=test-only-cookie-signing-key")...)
	fe := &frontEnd{url: "http://127.0.0.1:" + webPort, proc: p, sessionDir: sessions, cookieName: "session", cookie: flaskCookie}
	proctest.WaitReady(t, fe.url+"/healthz", 60*time.Second)

	t.Run("forged state", func(t *testing.T) {
		c := forgedState(t, fe, "session")
		if payload := flaskCookie(t, c.Value); !strings.Contains(payload, "_state_rotor_") || strings.Contains(payload, "verifier") || strings.Contains(payload, "nonce") {
			t.Errorf("the cookie during a sign-in holds %s, want only the state's key (Authlib's data in the server-side cache)", payload)
		}
	})
	var shot func(ctx context.Context)
	if d := os.Getenv("ROTOR_SCREENSHOT_DIR"); d != "" {
		shot = func(ctx context.Context) {
			for _, scheme := range []string{"light", "dark"} {
				if err := browser.ColorScheme(ctx, scheme); err != nil {
					t.Fatal(err)
				}
				path, err := browser.Screenshot(ctx, d, "example-flask-signed-in-"+scheme)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("screenshot: %s", path)
			}
			_ = browser.ColorScheme(ctx, "light")
		}
	}
	t.Run("scenario", func(t *testing.T) { runSignInScenario(t, rg, fe, shot) })
	if t.Failed() {
		t.Logf("flask output:\n%s", p.Output())
	}
}

// flaskCookie decodes Flask's session cookie (itsdangerous: base64url JSON,
// zlib-compressed when it starts with a dot, then a timestamp and a MAC) and
// returns its JSON: signed, not encrypted, so whatever it holds, the holder
// of the cookie reads.
func flaskCookie(t *testing.T, value string) string {
	t.Helper()
	compressed := strings.HasPrefix(value, ".")
	payload, _, _ := strings.Cut(strings.TrimPrefix(value, "."), ".")
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(payload, "="))
	if err != nil {
		t.Fatalf("session cookie %q: %v", value, err)
	}
	if compressed {
		zr, err := zlib.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if raw, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	if !json.Valid(raw) {
		t.Fatalf("session cookie payload %q is not JSON", raw)
	}
	return string(raw)
}
