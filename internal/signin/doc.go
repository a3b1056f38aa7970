// Package signin holds the end-to-end tests of browser sign-in against a
// real rotor process: Debian's headless Chromium driven by chromedp, and
// relying-party libraries nobody here wrote (golang.org/x/oauth2 with
// github.com/coreos/go-oidc/v3).
package signin
