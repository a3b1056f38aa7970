package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/rotor-idp/rotor/idp"
)

// The demo clients and user that `rotor serve --demo` (make run) creates:
// "demo" for the password grant and client credentials, "demo-web" for
// browser sign-in through the demo's own pages (demo_web.go).
const (
	demoClient    = "demo"
	demoWebClient = "demo-web"
	demoUser      = "demo"
	demoAudience  = "https://schedules.example"
)

// demoWebSpec is the browser client: public (the demo page holds no
// secret, PKCE protects its codes), first-party (no consent page), with
// redirect URIs on the loopback address that any port matches (RFC 8252
// §7.3), so the demo works on whatever port Rotor listens on.
var demoWebSpec = idp.ClientSpec{
	ID:                     demoWebClient,
	Name:                   "Rotor demo",
	Public:                 true,
	FirstParty:             true,
	GrantTypes:             []string{idp.GrantAuthorizationCode, idp.GrantRefreshToken},
	Scopes:                 []string{"schedules:read"},
	Audiences:              []string{demoAudience},
	RedirectURIs:           []string{"http://127.0.0.1" + demoCallbackPath},
	PostLogoutRedirectURIs: []string{"http://127.0.0.1" + demoSignedOutPath},
}

// seedDemo creates the demo clients and user on the first start and prints,
// once, their credentials and the curl lines to try Rotor, and the sign-in
// URL of the demo page (startURL; "" when the demo page cannot work on this
// listener). Later starts print the same lines with placeholders: Rotor
// keeps only hashes.
func seedDemo(ctx context.Context, s store, issuer, startURL string, p argon2id.Params, w io.Writer) error {
	at := now()
	if err := seedDemoWeb(ctx, s, at); err != nil {
		return err
	}
	var secret, password string
	_, err := s.ClientByID(ctx, demoClient)
	switch {
	case errors.Is(err, idp.ErrNotFound):
		c, sec, err := idp.NewClient(idp.ClientSpec{
			ID:         demoClient,
			GrantTypes: []string{idp.GrantPassword, idp.GrantRefreshToken, idp.GrantClientCredentials},
			Scopes:     []string{"schedules:read", "schedules:write"},
			Audiences:  []string{demoAudience},
		}, at)
		if err != nil {
			return err
		}
		if err := s.CreateClient(ctx, c); err != nil {
			return fmt.Errorf("create the demo client: %w", err)
		}
		var b [12]byte
		_, _ = rand.Read(b[:])
		secret, password = sec, base64.RawURLEncoding.EncodeToString(b[:])
		u, err := idp.NewUser(demoUser, password, p, at)
		if err != nil {
			return err
		}
		u.DisplayName, u.Email, u.EmailVerified = "Demo User", "demo@example.com", true
		if err := s.CreateUser(ctx, u); errors.Is(err, idp.ErrConflict) {
			h, err := idp.HashPassword(password, p)
			if err != nil {
				return err
			}
			err = s.SetPassword(ctx, demoUser, h, at)
			if err != nil {
				return fmt.Errorf("reset the demo user's password: %w", err)
			}
		} else if err != nil {
			return fmt.Errorf("create the demo user: %w", err)
		}
	case err != nil:
		return err
	}

	pr := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	pr("")
	pr("Rotor is running at %s", issuer)
	if secret != "" {
		pr("")
		pr("Demo client and user, created now and shown only this once (Rotor keeps only hashes):")
		pr("  client_id      %s", demoClient)
		pr("  client_secret  %s", secret)
		pr("  username       %s", demoUser)
		pr("  password       %s", password)
		pr("Change the password with: printf '%%s\\n' 'new password' | rotor users set-password %s", demoUser)
		pr("Replace the client with:  rotor clients delete %s, then rotor clients add …", demoClient)
	} else {
		secret, password = "$CLIENT_SECRET", "$PASSWORD"
		pr("The demo client %q and user %q exist; their credentials were printed on the first start.", demoClient, demoUser)
	}
	if startURL != "" {
		pr("")
		pr("Sign in with a browser (as user %s), and see the tokens Rotor issues:", demoUser)
		pr("  %s", startURL)
	}
	pr("")
	pr("Get a token with the legacy password grant:")
	pr("  curl -s -u '%s:%s' -d grant_type=password -d username=%s -d 'password=%s' %s/oauth2/token", demoClient, secret, demoUser, password, issuer)
	pr("Refresh it (with the refresh_token from that answer):")
	pr("  curl -s -u '%s:%s' -d grant_type=refresh_token -d refresh_token=rtr_… %s/oauth2/token", demoClient, secret, issuer)
	pr("Read the public keys:")
	pr("  curl -s %s/.well-known/jwks.json", issuer)
	pr("")
	return nil
}

// seedDemoWeb creates the demo's browser client if it is missing (a data
// directory from before browser sign-in has only the first one).
func seedDemoWeb(ctx context.Context, s store, at time.Time) error {
	_, err := s.ClientByID(ctx, demoWebClient)
	if !errors.Is(err, idp.ErrNotFound) {
		return err
	}
	c, _, err := idp.NewClient(demoWebSpec, at)
	if err != nil {
		return err
	}
	if err := s.CreateClient(ctx, c); err != nil && !errors.Is(err, idp.ErrConflict) {
		return fmt.Errorf("create the demo browser client: %w", err)
	}
	return nil
}
