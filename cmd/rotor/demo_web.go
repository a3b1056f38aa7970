package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// The demo's browser client, served by Rotor itself with --demo only, so that
// a newcomer can sign in on Rotor's page and see what a client gets without
// running anything else. It is an ordinary public client of the code flow
// with PKCE: /demo/ starts a sign-in, /demo/callback receives the code,
// exchanges it at the token endpoint (in-process, through the same handler
// every client talks to), checks the ID token, calls UserInfo and shows the
// decoded tokens.

const (
	demoPath          = "/demo/"
	demoCallbackPath  = "/demo/callback"
	demoSignedOutPath = "/demo/signed-out"
	demoCookie        = "rotor_demo"
	demoScope         = "openid profile email offline_access schedules:read"
)

// demoSite serves the demo pages and passes everything else to Rotor.
type demoSite struct {
	rotor    http.Handler
	issuer   string
	base     string // http://127.0.0.1:port, where the demo pages and redirect URIs are
	startURL string // "" when the listener cannot be reached on 127.0.0.1
	keys     idp.KeySource
}

func newDemoSite(rotor http.Handler, issuer string, addr net.Addr, ks idp.KeySource) *demoSite {
	d := &demoSite{rotor: rotor, issuer: issuer, keys: ks}
	if ta, ok := addr.(*net.TCPAddr); ok && (ta.IP.IsLoopback() && ta.IP.To4() != nil || ta.IP.IsUnspecified()) {
		d.base = "http://127.0.0.1:" + strconv.Itoa(ta.Port)
		d.startURL = d.base + demoPath
	}
	return d
}

func (d *demoSite) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/demo", demoPath, demoCallbackPath, demoSignedOutPath:
	default:
		d.rotor.ServeHTTP(w, r)
		return
	}
	if d.base == "" || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	// The redirect URIs are on 127.0.0.1 (a loopback IP literal, RFC 8252
	// §7.3); the demo's cookie must be set on the same host.
	if "http://"+r.Host != d.base {
		http.Redirect(w, r, d.base+r.URL.RequestURI(), http.StatusSeeOther)
		return
	}
	switch r.URL.Path {
	case demoCallbackPath:
		d.callback(w, r)
	case demoSignedOutPath:
		d.render(w, http.StatusOK, demoData{Title: "Signed out", Message: "You have signed out of Rotor.", Again: demoPath})
	default:
		d.start(w, r)
	}
}

// start begins a sign-in: a fresh PKCE verifier, state and nonce in a
// cookie of the demo's, and a redirect to Rotor's authorization endpoint.
func (d *demoSite) start(w http.ResponseWriter, r *http.Request) {
	verifier, state, nonce := random(), random(), random()
	sum := sha256.Sum256([]byte(verifier))
	http.SetCookie(w, &http.Cookie{
		Name: demoCookie, Value: state + "." + verifier + "." + nonce, Path: demoPath,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 600,
	})
	q := url.Values{
		"response_type": {"code"}, "client_id": {demoWebClient}, "redirect_uri": {d.base + demoCallbackPath},
		"scope": {demoScope}, "state": {state}, "nonce": {nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	http.Redirect(w, r, strings.TrimSuffix(d.issuer, "/")+"/oauth2/authorize?"+q.Encode(), http.StatusSeeOther)
}

func random() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// callback is the redirect URI: it checks the answer, redeems the code and
// shows what came back.
func (d *demoSite) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var state, verifier, nonce string
	if c, err := r.Cookie(demoCookie); err == nil {
		parts := strings.Split(c.Value, ".")
		if len(parts) == 3 {
			state, verifier, nonce = parts[0], parts[1], parts[2]
		}
	}
	http.SetCookie(w, &http.Cookie{Name: demoCookie, Path: demoPath, MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	switch {
	case q.Get("iss") != d.issuer:
		d.fail(w, "The answer does not come from this Rotor (iss, RFC 9207).")
	case state == "" || q.Get("state") != state:
		d.fail(w, "The answer does not belong to a sign-in this browser started (state). Start again.")
	case q.Get("error") != "":
		d.fail(w, "Rotor answered "+q.Get("error")+": "+q.Get("error_description"))
	default:
		d.exchange(w, r, q.Get("code"), verifier, nonce)
	}
}

func (d *demoSite) exchange(w http.ResponseWriter, r *http.Request, code, verifier, nonce string) {
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
		"redirect_uri": {d.base + demoCallbackPath}, "client_id": {demoWebClient},
	}
	var tok struct {
		AccessToken  string `json:"access_token"`
		IDToken      string `json:"id_token"`
		RefreshToken string `json:"refresh_token"`
		Scope        string `json:"scope"`
		Error        string `json:"error"`
	}
	status, body := d.call(r, http.MethodPost, "/oauth2/token", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", "")
	if err := json.Unmarshal(body, &tok); err != nil || status != http.StatusOK {
		d.fail(w, "The token endpoint answered "+http.StatusText(status)+" "+tok.Error+".")
		return
	}
	idPayload, _, err := d.keys.Snapshot().VerifyJWT(tok.IDToken, time.Now())
	var id struct {
		Nonce string `json:"nonce"`
		Aud   string `json:"aud"`
	}
	if err != nil || json.Unmarshal(idPayload, &id) != nil || id.Nonce != nonce || id.Aud != demoWebClient {
		d.fail(w, "The ID token does not verify, or is not for this sign-in.")
		return
	}
	_, info := d.call(r, http.MethodGet, "/oauth2/userinfo", nil, "", tok.AccessToken)
	logout := strings.TrimSuffix(d.issuer, "/") + "/oauth2/logout?" + url.Values{
		"id_token_hint": {tok.IDToken}, "post_logout_redirect_uri": {d.base + demoSignedOutPath},
	}.Encode()
	d.render(w, http.StatusOK, demoData{
		Title:   "Signed in",
		Message: "Rotor sent this page a code, and the page exchanged it (with its PKCE verifier) for these tokens. The ID token's signature, nonce and audience check out.",
		Tokens: []demoToken{
			decodeJWT("Access token (RFC 9068), for APIs", tok.AccessToken),
			decodeJWT("ID token (OpenID Connect), for this page", tok.IDToken),
			{Name: "Refresh token (opaque, rotates on every use)", Raw: shorten(tok.RefreshToken)},
			{Name: "UserInfo answer", Claims: indent(info)},
		},
		Scope: tok.Scope, Logout: logout, Again: demoPath,
	})
}

// call sends a request through Rotor's handler in-process.
func (d *demoSite) call(r *http.Request, method, path string, body *strings.Reader, contentType, bearer string) (int, []byte) {
	var req *http.Request
	if body != nil {
		req, _ = http.NewRequestWithContext(r.Context(), method, d.base+path, body)
	} else {
		req, _ = http.NewRequestWithContext(r.Context(), method, d.base+path, nil)
	}
	req.RemoteAddr = r.RemoteAddr
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	d.rotor.ServeHTTP(rec, req)
	return rec.status, rec.body.Bytes()
}

// recorder is the ResponseWriter of an in-process call.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(status int)      { r.status = status }

// demoToken is one token on the page, decoded.
type demoToken struct {
	Name, Header, Claims, Raw string
}

func decodeJWT(name, tok string) demoToken {
	t := demoToken{Name: name, Raw: shorten(tok)}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return t
	}
	for i, dst := range []*string{&t.Header, &t.Claims} {
		if b, err := base64.RawURLEncoding.DecodeString(parts[i]); err == nil {
			*dst = indent(b)
		}
	}
	return t
}

func indent(b []byte) string {
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}

func shorten(s string) string {
	if len(s) > 48 {
		return s[:24] + "…" + s[len(s)-12:]
	}
	return s
}

type demoData struct {
	Title, Message, Error, Scope, Logout, Again string
	Tokens                                      []demoToken
}

var demoPage = template.Must(template.New("demo").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{{.Title}} · Rotor demo</title>
<link rel="stylesheet" href="/static/rotor.css">
</head>
<body>
<main class="card wide">
<h1>Rotor demo: {{.Title}}</h1>
{{if .Error}}<div class="alert" role="alert" aria-labelledby="alert-title"><p class="alert-title" id="alert-title">Sign-in failed</p><p>{{.Error}}</p></div>{{end}}
{{if .Message}}<p class="lead">{{.Message}}</p>{{end}}
{{if .Scope}}<p>Scope granted: <code>{{.Scope}}</code></p>{{end}}
{{range .Tokens}}<h2>{{.Name}}</h2>
{{if .Raw}}<p><code>{{.Raw}}</code></p>{{end}}
{{if .Header}}<pre>{{.Header}}</pre>{{end}}
{{if .Claims}}<pre>{{.Claims}}</pre>{{end}}
{{end}}
<p class="links">{{if .Logout}}<a href="{{.Logout}}">Sign out of Rotor</a> · {{end}}<a href="{{.Again}}">Sign in again</a></p>
</main>
</body>
</html>
`))

func (d *demoSite) fail(w http.ResponseWriter, msg string) {
	d.render(w, http.StatusBadRequest, demoData{Title: "Sign-in failed", Error: msg, Again: demoPath})
}

func (d *demoSite) render(w http.ResponseWriter, status int, data demoData) {
	var buf bytes.Buffer
	if err := demoPage.Execute(&buf, data); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
