package main

import (
	"bytes"
	"html/template"
	"net/http"
)

const layout = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Schedules</title><link rel="stylesheet" href="/style.css"></head>
<body><main>{{template "body" .}}</main></body></html>`

func page(body string) *template.Template {
	return template.Must(template.Must(template.New("layout").Parse(layout)).New("body").Parse(body))
}

var (
	homePage = page(`<h1>Schedules</h1>
<p id="user">Signed in as <strong id="preferred-username">{{.S.Username}}</strong>{{with .S.Name}} (<span id="name">{{.}}</span>){{end}}</p>
<h2>9 December 2020</h2>
<ul id="schedules">{{range .Schedules}}<li><time>{{.DateTime}}</time> {{.Name}}: {{.Title}}</li>{{else}}<li>Nothing planned.</li>{{end}}</ul>
<form method="post" action="/logout"><button type="submit" id="signout">Sign out</button></form>`)

	signedOutPage = page(`<h1>Signed out</h1>
<p id="signed-out">You are signed out, here and at Rotor.</p>
<p><a href="/" id="signin">Sign in</a></p>`)

	errorPage = page(`<h1>Something went wrong</h1>
<p id="error" role="alert">{{.Message}}</p>
<p><a href="/">Back to the start</a></p>`)
)

func render(w http.ResponseWriter, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		http.Error(w, "page error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

const css = `body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1d2330}
main{max-width:36rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:.5rem;box-shadow:0 1px 3px #0002}
h1{margin-top:0}ul{padding-left:1.2rem}li{margin:.3rem 0}
button{font:inherit;padding:.5rem 1rem;border:0;border-radius:.3rem;background:#1f56c2;color:#fff;cursor:pointer}
button:focus-visible,a:focus-visible{outline:3px solid #1f56c2;outline-offset:2px}
@media (prefers-color-scheme:dark){body{background:#14171f;color:#e6e9ef}main{background:#1d2230}a{color:#9cc0ff}}
`

func serveCSS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write([]byte(css))
}
