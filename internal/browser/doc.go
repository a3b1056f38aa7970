// Package browser starts Debian's headless Chromium for tests (chromedp) and
// measures what the sign-in pages must get right: labels, alert roles,
// contrast and focus rings.
package browser
