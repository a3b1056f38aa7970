package main

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

var (
	errNonce           = errors.New("the ID token's nonce is not this sign-in's")
	errUserInfoSubject = errors.New("UserInfo names another subject than the ID token")
)

// login starts a sign-in: it remembers a fresh state, nonce and PKCE
// verifier in the server-side session and sends the browser to Rotor's
// authorization endpoint. ?reauth=1 asks Rotor for the password again
// (prompt=login), which is how a session whose refresh was refused starts
// over.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	id, s := a.current(r)
	if s == nil {
		id, s = newSessionID(), &session{Created: time.Now()}
		a.setCookie(w, id)
	}
	s.State, s.Nonce, s.Verifier = oauth2.GenerateVerifier(), oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
	if err := a.store.Put(id, s); err != nil {
		a.fail(w, http.StatusInternalServerError, "The sign-in could not start. Try again.", err)
		return
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(s.Verifier), oidc.Nonce(s.Nonce)}
	if r.URL.Query().Get("reauth") == "1" {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "login"))
	}
	http.Redirect(w, r, a.oauth.AuthCodeURL(s.State, opts...), http.StatusFound)
}

// callback finishes a sign-in: the state must be the one this browser's
// session sent (else anyone could feed the browser their own code), the
// code is redeemed with the PKCE verifier, the ID token is checked by
// go-oidc (signature through the JWKS, iss, aud, exp) and its nonce and
// at_hash here, and the profile comes from the UserInfo endpoint. The
// session gets a new id, so that an id planted before the sign-in is
// worth nothing after it.
func (a *app) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id, s := a.current(r)
	if s == nil || s.State == "" || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(s.State)) != 1 {
		a.fail(w, http.StatusBadRequest, "This sign-in was not started here, or it has already been used. Start again.", nil)
		return
	}
	if iss := q.Get("iss"); iss != "" && iss != a.issuer { // RFC 9207
		a.fail(w, http.StatusBadRequest, "The answer came from another issuer. Start again.", nil)
		return
	}
	if e := q.Get("error"); e != "" {
		a.fail(w, http.StatusForbidden, "Sign-in did not complete ("+e+").", nil)
		return
	}
	ctx := a.clientContext(r.Context())
	tok, err := a.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(s.Verifier))
	if err != nil {
		a.fail(w, http.StatusBadGateway, "Rotor did not accept the sign-in. Start again.", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := a.verifier.Verify(ctx, raw)
	if err == nil && subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(s.Nonce)) != 1 {
		err = errNonce
	}
	if err == nil {
		err = idt.VerifyAccessToken(tok.AccessToken)
	}
	if err != nil {
		a.fail(w, http.StatusBadGateway, "The ID token did not check out. Start again.", err)
		return
	}
	var profile struct {
		Username string `json:"preferred_username"`
		Name     string `json:"name"`
	}
	ui, err := a.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err == nil {
		err = ui.Claims(&profile)
	}
	if err == nil && ui.Subject != idt.Subject {
		err = errUserInfoSubject
	}
	if err != nil {
		a.fail(w, http.StatusBadGateway, "Your profile could not be read. Start again.", err)
		return
	}
	signedIn := &session{
		AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, IDToken: raw, Expiry: tok.Expiry,
		Subject: idt.Subject, Username: profile.Username, Name: profile.Name, Created: time.Now(),
	}
	newID := newSessionID()
	if err := a.store.Put(newID, signedIn); err != nil {
		a.fail(w, http.StatusInternalServerError, "The sign-in could not be saved. Try again.", err)
		return
	}
	_ = a.store.Delete(id)
	a.setCookie(w, newID)
	a.log.Info("signed in", "sub", idt.Subject)
	http.Redirect(w, r, "/", http.StatusFound)
}

// logout ends the local session and sends the browser to Rotor's
// end_session_endpoint (OIDC RP-Initiated Logout 1.0) with the ID token as
// the hint and this site's registered post-logout page, so that Rotor's
// session ends too: otherwise the next "Sign in" would come straight back
// signed in, without a password.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	id, s := a.current(r)
	if s == nil {
		http.Redirect(w, r, "/signed-out", http.StatusSeeOther)
		return
	}
	a.forget(w, id)
	if a.endSession == "" || s.IDToken == "" {
		http.Redirect(w, r, "/signed-out", http.StatusSeeOther)
		return
	}
	u := a.endSession + "?" + url.Values{
		"id_token_hint":            {s.IDToken},
		"post_logout_redirect_uri": {a.baseURL + "/signed-out"},
		"client_id":                {a.oauth.ClientID},
	}.Encode()
	a.log.Info("signed out", "sub", s.Subject)
	http.Redirect(w, r, u, http.StatusSeeOther)
}

func (a *app) signedOut(w http.ResponseWriter, r *http.Request) {
	render(w, http.StatusOK, signedOutPage, nil)
}
