package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/internal/audit"
)

// usersFlags are the flags of every users command: the store, --json, and
// the argon2id parameters of the hashes add and set-password make.
var usersFlags = []flagger{(*config).storeFlags, (*config).jsonFlag, (*config).argon2Flags, (*config).auditFlags}

var usersCommands = []command{
	{group: "users", name: "add", args: []string{"NAME"}, summary: "create a user (password on stdin; --email, --display-name)",
		flags: append([]flagger{(*config).profileFlags}, usersFlags...), run: withStore(forAdmin, usersAdd)},
	{group: "users", name: "update", args: []string{"NAME"}, summary: "change a profile: --email, --display-name, --email-verified",
		flags: append([]flagger{(*config).profileFlags}, usersFlags...), run: withStore(forAdmin, usersUpdate)},
	{group: "users", name: "list",
		flags: usersFlags, run: withStore(forAdmin, usersList)},
	{group: "users", name: "disable", args: []string{"NAME"}, summary: "disable a user and revoke their refresh tokens",
		flags: usersFlags, run: withStore(forAdmin, usersSetDisabled(true))},
	{group: "users", name: "enable", args: []string{"NAME"},
		flags: usersFlags, run: withStore(forAdmin, usersSetDisabled(false))},
	{group: "users", name: "set-password", args: []string{"NAME"}, summary: "change a password (on stdin); revokes refresh tokens",
		flags: usersFlags, run: withStore(forAdmin, usersSetPassword)},
	{group: "users", name: "consents", args: []string{"NAME"}, summary: "list the clients a user consented to",
		flags: usersFlags, run: withStore(forAdmin, usersConsents)},
	{group: "users", name: "revoke-consent", args: []string{"NAME", "CLIENT"}, summary: "forget a consent and revoke that client's refresh tokens for the user",
		flags: usersFlags, run: withStore(forAdmin, usersRevokeConsent)},
}

// profileFlags are a user's optional OIDC profile (users add, users update).
type profileFlags struct {
	email, displayName optString
	emailVerified      optBool
}

func (c *config) profileFlags(fs *flag.FlagSet) {
	fs.Var(&c.profile.email, "email", "email address (the email claim; \"\" removes it); a new address is unverified unless --email-verified")
	fs.Var(&c.profile.displayName, "display-name", "full name (the name claim; \"\" removes it)")
	fs.Var(&c.profile.emailVerified, "email-verified", "whether the address is known to be the user's (email_verified)")
}

// update is the profile change the flags ask for, checked.
func (f profileFlags) update() (idp.ProfileUpdate, error) {
	p := idp.ProfileUpdate{Email: f.email.ptr(), DisplayName: f.displayName.ptr(), EmailVerified: f.emailVerified.ptr()}
	return p, p.Check()
}

func usersAdd(ctx context.Context, in *invocation, be *backend) error {
	name := in.args[0]
	pw, params, err := newPassword(in)
	if err != nil {
		return err
	}
	profile, err := in.cfg.profile.update()
	if err != nil {
		return err
	}
	u, err := idp.NewUser(name, pw, params, now())
	if err != nil {
		return err
	}
	u = profile.Apply(u)
	if err := be.st.CreateUser(ctx, u); errors.Is(err, idp.ErrConflict) {
		return fmt.Errorf("a user named %q already exists", name)
	} else if err != nil {
		return err
	}
	in.audit(ctx, audit.UserCreated, slog.String("user_id", u.ID), slog.String("username", u.Name))
	return in.done(userJSONOf(u), "created user %s (id %s)", u.Name, u.ID)
}

func usersUpdate(ctx context.Context, in *invocation, be *backend) error {
	name := in.args[0]
	p, err := in.cfg.profile.update()
	if err != nil {
		return err
	}
	if p == (idp.ProfileUpdate{}) {
		return usagef("nothing to update: give --email, --display-name or --email-verified")
	}
	u, err := be.st.UpdateProfile(ctx, name, p, now())
	if err != nil {
		return notFound(err, "user", name)
	}
	return in.done(userJSONOf(u), "updated user %s", u.Name)
}

func usersSetPassword(ctx context.Context, in *invocation, be *backend) error {
	name := in.args[0]
	pw, params, err := newPassword(in)
	if err != nil {
		return err
	}
	if err := idp.CheckPassword(pw); err != nil {
		return err
	}
	h, err := idp.HashPassword(pw, params)
	if err != nil {
		return err
	}
	if err := be.st.SetPassword(ctx, name, h, now()); err != nil {
		return notFound(err, "user", name)
	}
	in.audit(ctx, audit.UserPasswordChanged, slog.String("username", name))
	return in.done(map[string]string{"name": name, "status": "password_changed"},
		"changed the password of %s and revoked their refresh tokens", name)
}

// usersSetDisabled is `users disable` (true) or `users enable` (false).
func usersSetDisabled(disabled bool) func(context.Context, *invocation, *backend) error {
	verb, event := "enabled", audit.UserEnabled
	if disabled {
		verb, event = "disabled", audit.UserDisabled
	}
	return func(ctx context.Context, in *invocation, be *backend) error {
		name := in.args[0]
		if err := be.st.SetUserDisabled(ctx, name, disabled, now()); err != nil {
			return notFound(err, "user", name)
		}
		in.audit(ctx, event, slog.String("username", name))
		return in.done(map[string]any{"name": name, "disabled": disabled}, "%s user %s", verb, name)
	}
}

func usersList(ctx context.Context, in *invocation, be *backend) error {
	us, err := be.st.Users(ctx)
	if err != nil {
		return err
	}
	return printList(in, us, userJSONOf, "NAME\tID\tDISABLED\tEMAIL\tCREATED", func(u idp.User) string {
		email := orDash(u.Email)
		if u.Email != "" && !u.EmailVerified {
			email += " (unverified)"
		}
		return fmt.Sprintf("%s\t%s\t%v\t%s\t%s", u.Name, u.ID, u.Disabled, email, u.CreatedAt.Format(time.RFC3339))
	})
}

// userJSON is a user as --json prints it: no password hash. The profile
// keeps the OIDC claim names.
type userJSON struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Disabled      bool      `json:"disabled"`
	Email         string    `json:"email,omitempty"`
	EmailVerified bool      `json:"email_verified"`
	DisplayName   string    `json:"display_name,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func userJSONOf(u idp.User) userJSON {
	return userJSON{ID: u.ID, Name: u.Name, Disabled: u.Disabled, Email: u.Email, EmailVerified: u.EmailVerified,
		DisplayName: u.DisplayName, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

// newPassword returns the argon2id parameters to hash with and the password
// on stdin.
func newPassword(in *invocation) (string, argon2id.Params, error) {
	params, _, err := in.cfg.argon2()
	if err != nil {
		return "", params, err
	}
	pw, err := readPassword(in.stdin)
	return pw, params, err
}

// readPassword reads one line from stdin: passwords never come from argv,
// where other users and shell history can see them.
func readPassword(r io.Reader) (string, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, idp.MaxPasswordLen+3), idp.MaxPasswordLen+3)
	line, err := br.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("no password on stdin (pipe it in, e.g. printf '%s' \"$PASSWORD\" | rotor users add NAME)")
	}
	return line, nil
}

// notFound names what was missing when err is idp.ErrNotFound.
func notFound(err error, what, name string) error {
	if errors.Is(err, idp.ErrNotFound) {
		return fmt.Errorf("no %s named %q", what, name)
	}
	return err
}
