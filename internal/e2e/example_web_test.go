package e2e

import (
	"encoding/base64"
	"regexp"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/proctest"
)

var webListeningRE = regexp.MustCompile(`msg="example-web listening" addr=(\S+)`)

// TestExampleWeb runs the Go front end (cmd/example-web on x/oauth2 and
// go-oidc) and cmd/example-api against Rotor through the whole sign-in
// story in Chromium.
func TestExampleWeb(t *testing.T) {
	rg := newSignInRig(t)
	api := startExampleAPI(t, rg.rotor.URL)
	dir := t.TempDir()
	p := proctest.Start(t, "example-web", proctest.Build(t, "./cmd/example-web"),
		[]string{"--issuer", rg.rotor.URL, "--api", api.url, "--listen", "127.0.0.1:0", "--session-dir", dir, "--refresh-margin", "1s"},
		"EXAMPLE_WEB_CLIENT_SECRET="+rg.secret)
	fe := &frontEnd{url: "http://" + p.WaitOutput(t, webListeningRE, 60*time.Second), proc: p, sessionDir: dir, cookieName: "example_web_session"}
	proctest.WaitReady(t, fe.url+"/healthz", 30*time.Second)

	t.Run("forged state", func(t *testing.T) {
		c := forgedState(t, fe, "example_web_session")
		if b, err := base64.RawURLEncoding.DecodeString(c.Value); err != nil || len(b) != 32 {
			t.Errorf("the cookie holds %q, want a random 256-bit id and nothing else", c.Value)
		}
	})
	t.Run("scenario", func(t *testing.T) { runSignInScenario(t, rg, fe, nil) })
}
