// Command example-web is a front end that signs users in through Rotor with
// OpenID Connect (golang.org/x/oauth2 and github.com/coreos/go-oidc/v3),
// keeps their tokens on the server, refreshes them before they expire and
// calls the schedules API (cmd/example-api) with the access token.
package main
