package signin

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/rotor-idp/rotor/internal/browser"
	"golang.org/x/oauth2"
)

// TestGoOIDCRelyingParty signs in with relying-party libraries nobody here
// wrote, used as their documentation says and unmodified: go-oidc finds
// Rotor by discovery and verifies the ID token against the JWKS, x/oauth2
// builds the authorization URL with PKCE S256 and redeems the code. Only the
// user's part (the login form) is a browser, driven by chromedp.
func TestGoOIDCRelyingParty(t *testing.T) {
	browser.Require(t)
	rg := newRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	provider, err := oidc.NewProvider(ctx, rg.rotor.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	conf := &oauth2.Config{
		ClientID: "web", ClientSecret: rg.secrets["web"], Endpoint: provider.Endpoint(),
		RedirectURL: rg.rp.url + "/cb", Scopes: []string{oidc.ScopeOpenID, "profile", "email", "offline_access"},
	}
	idVerifier := provider.Verifier(&oidc.Config{ClientID: "web"})
	verifier, state, nonce := oauth2.GenerateVerifier(), "state-"+oauth2.GenerateVerifier()[:8], oauth2.GenerateVerifier()

	type outcome struct {
		claims struct {
			Email         string `json:"email"`
			EmailVerified bool   `json:"email_verified"`
			Name          string `json:"name"`
			Username      string `json:"preferred_username"`
		}
		idToken  *oidc.IDToken
		token    *oauth2.Token
		userInfo *oidc.UserInfo
		err      error
	}
	done := make(chan outcome, 1)
	rg.rp.mu.Lock()
	rg.rp.handle = func(w http.ResponseWriter, r *http.Request) {
		var o outcome
		defer func() { done <- o }()
		q := r.URL.Query()
		switch {
		case q.Get("state") != state:
			o.err = fmt.Errorf("state %q", q.Get("state"))
		case q.Get("iss") != rg.rotor.URL:
			o.err = fmt.Errorf("iss %q (RFC 9207)", q.Get("iss"))
		}
		if o.err != nil {
			return
		}
		if o.token, o.err = conf.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(verifier)); o.err != nil {
			return
		}
		raw, _ := o.token.Extra("id_token").(string)
		if o.idToken, o.err = idVerifier.Verify(r.Context(), raw); o.err != nil {
			return
		}
		if o.idToken.Nonce != nonce {
			o.err = fmt.Errorf("nonce %q", o.idToken.Nonce)
			return
		}
		if o.err = o.idToken.VerifyAccessToken(o.token.AccessToken); o.err != nil {
			return
		}
		if o.userInfo, o.err = provider.UserInfo(r.Context(), conf.TokenSource(r.Context(), o.token)); o.err != nil {
			return
		}
		o.err = o.userInfo.Claims(&o.claims)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html lang="en"><title>RP</title><h1 id="rp">signed in</h1>`)
	}
	rg.rp.mu.Unlock()

	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
	c := browser.Bounded(t, browser.Start(t))
	run(t, c, chromedp.Navigate(authURL), chromedp.WaitVisible(chromedp.ID("password")))
	signIn(t, c, "alice", alicePW)
	rg.rp.next(t)
	var o outcome
	select {
	case o = <-done:
	case <-ctx.Done():
		t.Fatal("the relying party never finished")
	}
	if o.err != nil {
		t.Fatalf("relying party: %v", o.err)
	}
	if o.idToken.Issuer != rg.rotor.URL || o.idToken.Subject == "" || o.userInfo.Subject != o.idToken.Subject {
		t.Errorf("ID token iss %q sub %q, UserInfo sub %q", o.idToken.Issuer, o.idToken.Subject, o.userInfo.Subject)
	}
	if o.claims.Email != "alice@example.com" || !o.claims.EmailVerified || o.claims.Name != "Alice Liddell" || o.claims.Username != "alice" {
		t.Errorf("UserInfo claims %+v", o.claims)
	}
	if o.token.RefreshToken == "" {
		t.Error("no refresh token for offline_access")
	}
	// The refresh token works through x/oauth2's own refresh.
	expired := *o.token
	expired.Expiry = time.Now().Add(-time.Minute)
	fresh, err := conf.TokenSource(ctx, &expired).Token()
	if err != nil || fresh.AccessToken == o.token.AccessToken || fresh.RefreshToken == o.token.RefreshToken {
		t.Errorf("refresh through x/oauth2: %v", err)
	}
}
