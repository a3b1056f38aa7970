package idp

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Rotor's HTML pages: html/template files and one style sheet, embedded from
// web/. Handlers pass plain data; nothing here knows about grants.
//
//go:embed web/*.html web/rotor.css
var webFiles embed.FS

// Page names, one template file each (plus layout.html).
const (
	pageLogin     = "login"
	pageConsent   = "consent"
	pageError     = "error"
	pageLogout    = "logout"
	pageLoggedOut = "loggedout"
)

// pages holds the parsed templates and the style sheet.
type pages struct {
	tmpl     map[string]*template.Template
	css      []byte
	cssETag  string
	cssPath  string // where the style sheet is served, with a version query
	basePath string // the issuer's path, so that links work behind a path prefix
}

// cssRoute is the path the style sheet is served at.
const cssRoute = "/static/rotor.css"

func newPages(issuer string) *pages {
	css, err := webFiles.ReadFile("web/rotor.css")
	if err != nil {
		panic("idp: embedded style sheet: " + err.Error())
	}
	sum := sha256.Sum256(css)
	p := &pages{tmpl: map[string]*template.Template{}, css: css, cssETag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	if u, err := url.Parse(issuer); err == nil {
		p.basePath = strings.TrimSuffix(u.Path, "/")
	}
	p.cssPath = p.basePath + cssRoute + "?v=" + hex.EncodeToString(sum[:4])
	layout := template.Must(template.ParseFS(webFiles, "web/layout.html"))
	for _, name := range []string{pageLogin, pageConsent, pageError, pageLogout, pageLoggedOut} {
		t := template.Must(template.Must(layout.Clone()).ParseFS(webFiles, "web/"+name+".html"))
		p.tmpl[name] = t
	}
	return p
}

// path is a path on Rotor as pages link to it.
func (p *pages) path(route string) string { return p.basePath + route }

// pageData is what every page shows; page-specific fields are in the
// embedding structs below.
type pageData struct {
	Title      string // <title>, before " · Rotor"
	CSS        string
	Error      string // the alert region; "" shows none
	ErrorTitle string
}

func (d *pageData) base() *pageData { return d }

type page interface{ base() *pageData }

// htmlHeaders are the headers of every page (DESIGN.md "Browser sign-in"):
// no framing (clickjacking), no referrer (the URL may hold a code or a
// state), never cached (a page may show who is signed in).
func htmlHeaders(h http.Header, formAction []string) {
	csp := "default-src 'none'; style-src 'self'; form-action 'self'"
	for _, src := range formAction {
		csp += " " + src
	}
	csp += "; frame-ancestors 'none'; base-uri 'none'"
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// render writes a page with the security headers. formAction lists CSP
// sources, besides 'self', that a form on the page may end up at: Chromium
// applies form-action to the redirects that follow a form's POST, so a form
// whose answer redirects to a client needs the client's origin listed.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, name string, data page, formAction ...string) {
	b := data.base()
	b.CSS = s.pages.cssPath
	if b.Error != "" && b.ErrorTitle == "" {
		b.ErrorTitle = "Error"
	}
	var buf bytes.Buffer
	body := []byte(nil)
	if err := s.pages.tmpl[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelError, "render page", slog.String("page", name), slog.String("error", err.Error()))
		status, body = http.StatusInternalServerError, []byte("internal error\n")
	} else {
		body = buf.Bytes()
	}
	h := w.Header()
	htmlHeaders(h, formAction)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// errorPage is the data of the error page.
type errorPage struct {
	pageData
	Heading string
	Hint    string
}

// renderError shows the error page: for requests that must not be
// redirected (an unknown client, a redirect URI that does not match, RFC
// 6749 §4.1.2.1), refused forms, and failures. retry > 0 adds Retry-After.
func (s *server) renderError(w http.ResponseWriter, r *http.Request, status int, heading, msg, hint string, retry time.Duration) {
	if retry > 0 {
		w.Header().Set("Retry-After", retryAfter(retry))
	}
	s.render(w, r, status, pageError, &errorPage{
		pageData: pageData{Title: heading, Error: msg, ErrorTitle: heading},
		Heading:  heading, Hint: hint,
	})
}

// renderFailure shows the error page for an error from the store or the
// key ring (503 with Retry-After when it is temporary), logged like the
// token endpoint's.
func (s *server) renderFailure(w http.ResponseWriter, r *http.Request, err error) {
	oe := asOAuthError(err)
	s.logFailure(r.Context(), r, oe.Status, errString(oe))
	if oe.Status == http.StatusServiceUnavailable {
		s.renderError(w, r, oe.Status, "Try again shortly", "Rotor cannot complete the sign-in right now.", "Wait a moment, then go back to the application and try again.", oe.RetryAfter)
		return
	}
	s.renderError(w, r, http.StatusInternalServerError, "Something went wrong", "Rotor could not complete the sign-in.", "Go back to the application and try again.", 0)
}

// handleCSS serves the style sheet: public, cached, versioned by a query
// the pages change when it changes.
func (s *server) handleCSS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=86400")
	h.Set("ETag", s.pages.cssETag)
	if r.Header.Get("If-None-Match") == s.pages.cssETag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(s.pages.css)))
	_, _ = w.Write(s.pages.css)
}

// retryAfter is a Retry-After value: whole seconds, rounded up (RFC 9110
// §10.2.3).
func retryAfter(d time.Duration) string {
	return strconv.Itoa(int((d + time.Second - 1) / time.Second))
}
