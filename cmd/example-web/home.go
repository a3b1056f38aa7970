package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"golang.org/x/oauth2"
)

// errRefused is a refresh Rotor said no to (invalid_grant: the family was
// revoked, the user disabled, the grant expired); the sign-in is over.
var errRefused = errors.New("refresh refused")

// home shows who is signed in and today's schedules from the API. Without a
// session it starts a sign-in; when Rotor refuses to refresh the tokens it
// ends the local session and starts a sign-in that asks for the password.
func (a *app) home(w http.ResponseWriter, r *http.Request) {
	id, s := a.current(r)
	if s == nil || !s.signedIn() {
		http.Redirect(w, r, "/login", http.StatusFound)
		return
	}
	s, err := a.freshTokens(r.Context(), id)
	if errors.Is(err, errRefused) {
		a.forget(w, id)
		http.Redirect(w, r, "/login?reauth=1", http.StatusFound)
		return
	}
	if err != nil {
		a.fail(w, http.StatusBadGateway, "Rotor could not be reached to renew your sign-in. Try again in a moment.", err)
		return
	}
	sched, err := a.schedules(r.Context(), s.AccessToken, "20201209")
	if err != nil {
		a.fail(w, http.StatusBadGateway, "The schedules could not be fetched.", err)
		return
	}
	render(w, http.StatusOK, homePage, map[string]any{"S": s, "Schedules": sched})
}

// freshTokens returns the session with an access token that has more than
// the margin left, refreshing it first if needed. It holds the session's
// lock and reads the session again under it: a request that waited finds the
// tokens the one before it got, instead of spending the old refresh token a
// second time.
func (a *app) freshTokens(ctx context.Context, id string) (*session, error) {
	defer a.lock(id)()
	s, err := a.store.Get(id)
	if err != nil {
		return nil, errRefused
	}
	if time.Until(s.Expiry) > a.margin {
		return s, nil
	}
	// A token with only a refresh token is invalid to x/oauth2, so the
	// source refreshes it.
	tok, err := a.oauth.TokenSource(a.clientContext(ctx), &oauth2.Token{RefreshToken: s.RefreshToken}).Token()
	if re := (*oauth2.RetrieveError)(nil); errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
		a.log.Info("refresh refused; signing out", "sub", s.Subject)
		return nil, errRefused
	}
	if err != nil {
		return nil, err
	}
	s.AccessToken, s.Expiry = tok.AccessToken, tok.Expiry
	if tok.RefreshToken != "" { // Rotor rotates it on every use
		s.RefreshToken = tok.RefreshToken
	}
	if err := a.store.Put(id, s); err != nil {
		return nil, err
	}
	a.log.Info("access token refreshed", "sub", s.Subject, "expiry", s.Expiry)
	return s, nil
}

// schedule is one entry of the API's answer.
type schedule struct {
	DateTime string `json:"datetime"`
	Name     string `json:"name"`
	Title    string `json:"title"`
}

// schedules calls GET /schedules/{date} on the API with the access token.
func (a *app) schedules(ctx context.Context, token, date string) ([]schedule, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.api+"/schedules/"+date, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("schedules API answered %d (%s)", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	var body struct {
		Schedules []schedule `json:"schedules"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return nil, err
	}
	return body.Schedules, nil
}

// fail shows an error page; the cause goes to the log, never to the page.
func (a *app) fail(w http.ResponseWriter, status int, msg string, cause error) {
	if cause != nil {
		a.log.Warn("request failed", "status", status, "err", cause)
	}
	render(w, status, errorPage, map[string]any{"Message": msg})
}
