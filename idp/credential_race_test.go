package idp_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/rotor-idp/rotor/idp"
)

// A password check reads the user; disabling the user or changing the
// password can commit after that read and before the sign-in stores what
// it grants. The sign-in must then fail, or what it stored must be dead:
// never a live refresh-token family or browser session from a password
// that no longer works, or for a user who is disabled.

// TestCredentialChangeDuringPasswordGrant holds a password grant after its
// password check, just before its refresh-token family is stored, while
// the user is disabled or their password changed.
func TestCredentialChangeDuringPasswordGrant(t *testing.T) {
	for _, rv := range revocations[1:] { // disabling, changing the password
		t.Run(rv.name, func(t *testing.T) {
			var pause pauser
			e := newEnvWithSeam(t, func(d *idp.Deps) { d.Refresh = pausingCreate{d.Refresh, &pause} })
			secret := e.client(idp.ClientSpec{ID: "web", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read"}})
			e.user("alice", "correct horse battery staple")

			paused, resume := pause.arm()
			answered := make(chan response, 1)
			go func() { answered <- e.login("web", secret, "alice", "correct horse battery staple") }()
			<-paused
			if err := rv.revoke(e, secret, "alice", ""); err != nil {
				t.Fatal(err)
			}
			close(resume)
			r := <-answered
			if r.status == http.StatusOK {
				t.Errorf("the grant got tokens after the user changed: %s", r.raw)
				wantError(t, e.refresh("web", secret, r.str("refresh_token"), nil), http.StatusBadRequest, "invalid_grant")
				return
			}
			wantError(t, r, http.StatusBadRequest, "invalid_grant")
		})
	}
}

// TestCredentialChangeDuringLogin does the same to Rotor's login page,
// held just before the browser session is stored.
func TestCredentialChangeDuringLogin(t *testing.T) {
	for _, rv := range revocations[1:] {
		t.Run(rv.name, func(t *testing.T) {
			var pause pauser
			e := newEnvWithSeam(t, func(d *idp.Deps) { d.Sessions = pausingSessions{d.Sessions, &pause} })
			e.webClient(idp.ClientSpec{ID: "web", FirstParty: true})
			e.user("alice", "correct horse battery staple")
			b := e.browser()
			page := b.authorize(authzParams("web"))
			if page.status != http.StatusOK {
				t.Fatalf("authorize: %d, want the login page", page.status)
			}

			paused, resume := pause.arm()
			answered := make(chan response, 1)
			go func() { answered <- b.submitLogin(page, "alice", "correct horse battery staple") }()
			<-paused
			if err := rv.revoke(e, "", "alice", ""); err != nil {
				t.Fatal(err)
			}
			close(resume)
			if r := <-answered; r.status != http.StatusBadRequest {
				t.Errorf("login: %d (Location %q), want 400 and the login page again", r.status, r.header.Get("Location"))
			}
			// No session either: the next request asks for the password.
			if r := b.authorize(authzParams("web")); r.status != http.StatusOK {
				t.Errorf("authorize after the change: %d (Location %q), want the login page", r.status, r.header.Get("Location"))
			}
		})
	}
}

// pausingCreate is the real refresh store with a pause before CreateFamily.
type pausingCreate struct {
	idp.RefreshStore
	p *pauser
}

func (s pausingCreate) CreateFamily(ctx context.Context, f idp.Family, first idp.RefreshToken) error {
	s.p.hold()
	return s.RefreshStore.CreateFamily(ctx, f, first)
}

// pausingSessions is the real session store with a pause before
// CreateSession.
type pausingSessions struct {
	idp.SessionStore
	p *pauser
}

func (s pausingSessions) CreateSession(ctx context.Context, se idp.Session) error {
	s.p.hold()
	return s.SessionStore.CreateSession(ctx, se)
}
