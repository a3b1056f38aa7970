package browser

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// DefaultPath is where Debian's chromium package installs the browser.
// ROTOR_CHROMIUM overrides it.
const DefaultPath = "/usr/bin/chromium"

// Path returns the Chromium executable, and whether it is there.
func Path() (string, bool) {
	p := os.Getenv("ROTOR_CHROMIUM")
	if p == "" {
		p = DefaultPath
	}
	if _, err := exec.LookPath(p); err != nil {
		return p, false
	}
	return p, true
}

// Require skips the test, loudly, when Chromium is missing, except under
// CI=true, where it fails: .ci/run installs the browser, so missing it there
// is a broken machine, not an optional test.
func Require(t testing.TB) string {
	t.Helper()
	p, ok := Path()
	if ok {
		return p
	}
	msg := "BROWSER TEST SKIPPED: " + p + " not found (apt-get install chromium; .ci/run installs it)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Start launches a fresh headless Chromium, with its own profile in a
// temporary directory (no cookies from anywhere else), and returns a
// chromedp context for one tab in it. The browser stops when the test ends.
// The flags are the ones this kind of machine needs: no sandbox (tests run as
// root in CI), no GPU, and no background traffic to Google. A browser that
// dies while starting (it happens on a machine short of resources) is
// started again, twice at most, and the test says so.
func Start(t testing.TB) context.Context {
	t.Helper()
	path := Require(t)
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		var ctx context.Context
		if ctx, err = start(t, path); err == nil {
			return ctx
		}
		t.Logf("chromium did not start (attempt %d): %v", attempt, err)
	}
	t.Fatalf("start chromium: %v", err)
	return nil
}

func start(t testing.TB, path string) (context.Context, error) {
	dir, err := os.MkdirTemp("", "rotor-chromium-")
	if err != nil {
		return nil, err
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(900, 900),
		chromedp.UserDataDir(dir),
	)
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	stop := func() {
		cancel()
		cancelAlloc()
		// Chromium's helpers may still write to the profile for a moment.
		for range 50 {
			if os.RemoveAll(dir) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Start the browser now, outside any timeout (see chromedp.Run).
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		stop()
		return nil, err
	}
	t.Cleanup(stop)
	return ctx, nil
}

// Bounded returns ctx with a deadline for a few steps; the browser itself
// lives on.
func Bounded(t testing.TB, ctx context.Context) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// ColorScheme makes the page render with prefers-color-scheme dark or
// light.
func ColorScheme(ctx context.Context, scheme string) error {
	_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	})
	return err
}

// DisableJavaScript turns script execution off in the tab, as a user who
// blocks JavaScript would have it.
func DisableJavaScript(ctx context.Context) error {
	_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	return err
}

// Screenshot saves a PNG of the viewport as name.png in dir (made if
// missing) and returns its path.
func Screenshot(ctx context.Context, dir, name string) (string, error) {
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, strings.ReplaceAll(name, "/", "-")+".png")
	return path, os.WriteFile(path, buf, 0o644)
}
