package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/internal/audit"
)

// The consent commands of the users group (issue 9): what a user let
// third-party clients have, and taking it back.

func usersConsents(ctx context.Context, in *invocation, be *backend) error {
	name := in.args[0]
	u, err := be.st.UserByName(ctx, name)
	if err != nil {
		return notFound(err, "user", name)
	}
	cs, err := be.st.Consents(ctx, u.ID)
	if err != nil {
		return err
	}
	return printList(in, cs, consentJSONOf, "CLIENT\tSCOPES\tGRANTED", func(c idp.Consent) string {
		return fmt.Sprintf("%s\t%s\t%s", c.ClientID, orDash(strings.Join(c.Scopes, " ")), c.GrantedAt.Format(time.RFC3339))
	})
}

func usersRevokeConsent(ctx context.Context, in *invocation, be *backend) error {
	name, clientID := in.args[0], in.args[1]
	u, err := be.st.UserByName(ctx, name)
	if err != nil {
		return notFound(err, "user", name)
	}
	if err := be.st.RevokeConsent(ctx, u.ID, clientID, now()); errors.Is(err, idp.ErrNotFound) {
		return fmt.Errorf("user %s has no consent for client %q", name, clientID)
	} else if err != nil {
		return err
	}
	in.audit(ctx, audit.ConsentRevoked, slog.String("user_id", u.ID), slog.String("client_id", clientID))
	return in.done(map[string]string{"name": name, "client_id": clientID, "status": "consent_revoked"},
		"revoked the consent of %s for %s, and %s's refresh tokens for the user", name, clientID, clientID)
}

// consentJSON is a consent as --json prints it.
type consentJSON struct {
	ClientID  string    `json:"client_id"`
	Scopes    []string  `json:"scopes"`
	GrantedAt time.Time `json:"granted_at"`
}

func consentJSONOf(c idp.Consent) consentJSON {
	return consentJSON{ClientID: c.ClientID, Scopes: emptyIfNone(c.Scopes), GrantedAt: c.GrantedAt}
}
