package idp_test

import (
	"context"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/keys"
	"github.com/rotor-idp/rotor/sql/postgres"
	"github.com/rotor-idp/rotor/sql/sqlite"
)

// BenchmarkSignInFlow measures the CPU of a browser sign-in by a user who is
// already signed in (session cookie, no password): GET /oauth2/authorize
// → 303 with a code → POST /oauth2/token with the code and the PKCE
// verifier → access token, ID token and refresh token, all EdDSA. The
// baseline is one EdDSA refresh_token grant, measured in the same run,
// interleaved in chunks. Both run in process (handler and store; no network),
// and CPU is the process's (getrusage): with the embedded store that
// includes SQLite, with Postgres it does not (the database is another
// process), as with a real server. It reports cpu-ns/flow, cpu-ns/refresh and
// flow/refresh, the figure issue 9 holds to at most 2.
//
//	go test -run '^$' -bench BenchmarkSignInFlow -benchtime 2000x -count 5 ./idp/
//
// The flow of the target issues an access token and an ID token (no
// refresh token: a web app that keeps its own session); "offline" adds a
// refresh token, and with it a refresh-token family in the exchange's
// transaction.
func BenchmarkSignInFlow(b *testing.B) {
	for _, kind := range []string{"postgres", "embedded"} {
		for _, offline := range []bool{false, true} {
			name := kind
			if offline {
				name += "/offline"
			}
			b.Run(name, func(b *testing.B) { benchSignInFlow(b, kind, offline) })
		}
	}
}

func benchSignInFlow(b *testing.B, kind string, offline bool) {
	h := benchServer(b, kind)
	flow, refresh := signInFlow(b, h, offline)
	const chunk = 16
	var inFlow, inRefresh time.Duration
	var flows, refreshes int
	for n := 0; b.Loop(); n++ {
		start := cpuTime()
		if n%(2*chunk) < chunk {
			flow()
			inFlow += cpuTime() - start
			flows++
		} else {
			refresh()
			inRefresh += cpuTime() - start
			refreshes++
		}
	}
	if flows > 0 && refreshes > 0 {
		perFlow := float64(inFlow.Nanoseconds()) / float64(flows)
		perRefresh := float64(inRefresh.Nanoseconds()) / float64(refreshes)
		b.ReportMetric(perFlow, "cpu-ns/flow")
		b.ReportMetric(perRefresh, "cpu-ns/refresh")
		b.ReportMetric(perFlow/perRefresh, "flow/refresh")
	}
}

// cpuTime is the process's user and system CPU so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchStore is every store the server needs.
type benchStore interface {
	idp.UserStore
	idp.ClientStore
	idp.RefreshStore
	idp.SessionStore
	idp.CodeStore
	idp.ConsentStore
	idp.ReplayStore
	idp.Pinger
	keys.Store
}

// benchServer is a Rotor handler on a fresh store of the kind, with two
// first-party EdDSA web clients (one with refresh tokens, one without) and
// a user.
func benchServer(b *testing.B, kind string) http.Handler {
	ctx := context.Background()
	var st benchStore
	switch kind {
	case "postgres":
		s, err := postgres.Open(ctx, pgtest.NewDatabase(b))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(s.Close)
		st = s
	default:
		s, err := sqlite.Open(ctx, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		st = s
	}
	mgr, err := keys.NewManager(st, keys.Config{
		Algs: []keys.Alg{keys.RS256, keys.EdDSA}, Policy: keys.Policy{PropagationDelay: 3 * time.Second, RetireAfter: time.Hour},
		PollInterval: time.Second, KEKs: newKEKs(b),
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := mgr.Start(ctx); err != nil {
		b.Fatal(err)
	}
	const issuer = "http://127.0.0.1:1"
	h, _ := idp.NewServerForTest(idp.Config{Issuer: issuer, Argon2: fastArgon2, Logger: slog.New(slog.DiscardHandler)}, idp.Deps{
		Users: st, Clients: st, Refresh: st, Sessions: st, Codes: st, Consents: st, Replay: st, Pinger: st, Keys: mgr,
	})
	now := time.Now().UTC().Truncate(time.Microsecond)
	for _, spec := range []idp.ClientSpec{
		{ID: "web", GrantTypes: []string{idp.GrantAuthorizationCode, idp.GrantRefreshToken}},
		{ID: "web-online", GrantTypes: []string{idp.GrantAuthorizationCode}},
	} {
		spec.Scopes, spec.Audiences, spec.TokenAlg, spec.FirstParty, spec.RedirectURIs = []string{"read"}, []string{"https://api.example"}, "EdDSA", true, []string{webRedirect}
		c, secret, err := idp.NewClient(spec, now)
		if err != nil {
			b.Fatal(err)
		}
		if err := st.CreateClient(ctx, c); err != nil {
			b.Fatal(err)
		}
		benchSecrets[c.ID] = secret
	}
	u, err := idp.NewUser("alice", alicePW, fastArgon2, now)
	if err != nil {
		b.Fatal(err)
	}
	if err := st.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	return h
}

var benchSecrets = map[string]string{}

// signInFlow signs alice in once, through the login form, and returns the
// flow that reuses her session (with a refresh token if offline) and the
// refresh that is its baseline.
func signInFlow(b *testing.B, h http.Handler, offline bool) (flow, refresh func()) {
	client := "web-online"
	if offline {
		client = "web"
	}
	do := func(r *http.Request) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	authorize := "/oauth2/authorize?" + authzParams(client, "scope", "openid read", "state", "s", "nonce", "n").Encode()
	page := do(httptest.NewRequest(http.MethodGet, authorize, nil))
	f := formOf(b, page.Body.String())
	f.Set("username", "alice")
	f.Set("password", alicePW)
	login := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(f.Encode()))
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range page.Result().Cookies() {
		login.AddCookie(c)
	}
	resp := do(login)
	var session *http.Cookie
	for _, c := range resp.Result().Cookies() {
		if c.Name == idp.SessionCookie {
			session = c
		}
	}
	if resp.Code != http.StatusSeeOther || session == nil {
		b.Fatalf("login: %d %s", resp.Code, resp.Body)
	}
	exchange := func(client, code string) string {
		body := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {testVerifier}, "redirect_uri": {webRedirect}}
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(client, benchSecrets[client])
		w := do(r)
		if w.Code != http.StatusOK {
			b.Fatalf("exchange: %d %s", w.Code, w.Body)
		}
		return w.Body.String()
	}
	codeOf := func(w *httptest.ResponseRecorder) string {
		u, err := url.Parse(w.Header().Get("Location"))
		if err != nil || u.Query().Get("code") == "" {
			b.Fatalf("authorize: %d %q", w.Code, w.Header().Get("Location"))
		}
		return u.Query().Get("code")
	}
	exchange(client, codeOf(resp))
	// The baseline's family, from a sign-in of the client with refresh
	// tokens.
	r := httptest.NewRequest(http.MethodGet, "/oauth2/authorize?"+authzParams("web", "scope", "openid read").Encode(), nil)
	r.AddCookie(session)
	rt := extract(b, exchange("web", codeOf(do(r))), "refresh_token")
	flow = func() {
		r := httptest.NewRequest(http.MethodGet, authorize, nil)
		r.AddCookie(session)
		body := exchange(client, codeOf(do(r)))
		if !strings.Contains(body, `"id_token"`) || strings.Contains(body, `"refresh_token"`) != offline {
			b.Fatalf("flow: %s", body)
		}
	}
	refresh = func() {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token",
			strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth("web", benchSecrets["web"])
		w := do(r)
		if w.Code != http.StatusOK {
			b.Fatalf("refresh: %d %s", w.Code, w.Body)
		}
		rt = extract(b, w.Body.String(), "refresh_token")
	}
	return flow, refresh
}

// formOf returns the hidden fields of a page's form.
func formOf(b *testing.B, page string) url.Values {
	f := url.Values{}
	for _, in := range inputRE.FindAllStringSubmatch(page, -1) {
		f.Set(in[1], html.UnescapeString(in[2]))
	}
	if f.Get("csrf_token") == "" {
		b.Fatalf("no form in %s", page)
	}
	return f
}
