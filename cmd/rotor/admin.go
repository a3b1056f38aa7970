package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/keys"
	"github.com/rotor-idp/rotor/sql/postgres"
	"github.com/rotor-idp/rotor/sql/sqlite"
)

// admin runs the administrative commands. They share the server's store
// settings and print text, or JSON with --json.
type admin struct {
	ctx    context.Context
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// command is a parsed admin command line.
type command struct {
	c    *config
	fs   *flag.FlagSet
	args []string
}

func (a *admin) newCommand(name string, extra func(*config, *flag.FlagSet)) *command {
	c := &config{}
	fs := flag.NewFlagSet("rotor "+name, flag.ContinueOnError)
	c.storeFlags(fs)
	fs.BoolVar(&c.json, "json", false, "print JSON")
	if extra != nil {
		extra(c, fs)
	}
	return &command{c: c, fs: fs}
}

func (a *admin) parse(cmd *command, args []string, nargs int, argNames string) error {
	var err error
	cmd.args, err = parseFlags(cmd.fs, args, a.getenv, a.stderr)
	if err != nil {
		return err
	}
	if len(cmd.args) != nargs {
		return usagef("usage: %s %s", cmd.fs.Name(), argNames)
	}
	return nil
}

// open opens the store; admin commands log warnings only.
func (a *admin) open(c *config, mode openMode) (*backend, error) {
	log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return openBackend(a.ctx, c, mode, log)
}

func (a *admin) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (a *admin) migrate(args []string) error {
	cmd := a.newCommand("migrate", nil)
	if err := a.parse(cmd, args, 0, ""); err != nil {
		return err
	}
	migrate := func() error { return postgres.Migrate(a.ctx, cmd.c.database) }
	if cmd.c.database == "" {
		migrate = func() error { return sqlite.Migrate(a.ctx, cmd.c.dataDir) }
	}
	if err := migrate(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if cmd.c.json {
		return a.printJSON(map[string]string{"status": "migrated"})
	}
	fmt.Fprintln(a.stdout, "database is up to date")
	return nil
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

type userJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (a *admin) users(args []string) error {
	if len(args) == 0 {
		return usagef("usage: rotor users add|list|disable|enable|set-password …")
	}
	sub, args := args[0], args[1:]
	nargs, argName := 1, "NAME"
	switch sub {
	case "list":
		nargs, argName = 0, ""
	case "add", "disable", "enable", "set-password":
	default:
		return usagef("unknown users command %q", sub)
	}
	cmd := a.newCommand("users "+sub, func(c *config, fs *flag.FlagSet) { c.argon2Flags(fs) })
	if err := a.parse(cmd, args, nargs, argName); err != nil {
		return err
	}
	be, err := a.open(cmd.c, forAdmin)
	if err != nil {
		return err
	}
	defer be.Close()
	now := time.Now().UTC().Truncate(time.Microsecond)
	switch sub {
	case "add", "set-password":
		params, _, err := cmd.c.argon2()
		if err != nil {
			return err
		}
		pw, err := readPassword(a.stdin)
		if err != nil {
			return err
		}
		name := cmd.args[0]
		if sub == "add" {
			u, err := idp.NewUser(name, pw, params, now)
			if err != nil {
				return err
			}
			if err := be.st.CreateUser(a.ctx, u); errors.Is(err, idp.ErrConflict) {
				return fmt.Errorf("a user named %q already exists", name)
			} else if err != nil {
				return err
			}
			return a.done(cmd.c, userJSONOf(u), "created user %s (id %s)", u.Name, u.ID)
		}
		if err := idp.CheckPassword(pw); err != nil {
			return err
		}
		h, err := idp.HashPassword(pw, params)
		if err != nil {
			return err
		}
		if err := be.st.SetPassword(a.ctx, name, h, now); err != nil {
			return notFound(err, "user", name)
		}
		return a.done(cmd.c, map[string]string{"name": name, "status": "password_changed"}, "changed the password of %s and revoked their refresh tokens", name)
	case "disable", "enable":
		name := cmd.args[0]
		if err := be.st.SetUserDisabled(a.ctx, name, sub == "disable", now); err != nil {
			return notFound(err, "user", name)
		}
		return a.done(cmd.c, map[string]any{"name": name, "disabled": sub == "disable"}, "%sd user %s", sub, name)
	default: // list
		us, err := be.st.Users(a.ctx)
		if err != nil {
			return err
		}
		return printList(a, cmd.c.json, us, userJSONOf, "NAME\tID\tDISABLED\tCREATED", func(u idp.User) string {
			return fmt.Sprintf("%s\t%s\t%v\t%s", u.Name, u.ID, u.Disabled, u.CreatedAt.Format(time.RFC3339))
		})
	}
}

func userJSONOf(u idp.User) userJSON {
	return userJSON{ID: u.ID, Name: u.Name, Disabled: u.Disabled, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

// done prints the result of a command that changed something.
func (a *admin) done(c *config, v any, format string, args ...any) error {
	if c.json {
		return a.printJSON(v)
	}
	fmt.Fprintf(a.stdout, format+"\n", args...)
	return nil
}

func notFound(err error, what, name string) error {
	if errors.Is(err, idp.ErrNotFound) {
		return fmt.Errorf("no %s named %q", what, name)
	}
	return err
}

type clientJSON struct {
	ClientID     string    `json:"client_id"`
	ClientSecret string    `json:"client_secret,omitempty"`
	Public       bool      `json:"public"`
	GrantTypes   []string  `json:"grant_types"`
	Scopes       []string  `json:"scopes"`
	Audiences    []string  `json:"audiences"`
	TokenAlg     string    `json:"token_alg,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

func clientJSONOf(c idp.Client) clientJSON {
	return clientJSON{ClientID: c.ID, Public: c.Public, GrantTypes: c.GrantTypes, Scopes: c.Scopes,
		Audiences: c.Audiences, TokenAlg: c.TokenAlg, CreatedAt: c.CreatedAt}
}

func splitList(s, sep string) []string {
	var out []string
	for _, f := range strings.Split(s, sep) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (a *admin) clients(args []string) error {
	if len(args) == 0 {
		return usagef("usage: rotor clients add|list|delete …")
	}
	sub, args := args[0], args[1:]
	var grantTypes, scopes, audiences, tokenAlg string
	var public bool
	nargs, argName := 1, "ID"
	cmd := a.newCommand("clients "+sub, nil)
	switch sub {
	case "add":
		cmd.fs.StringVar(&grantTypes, "grant-types", "client_credentials", "comma-separated grant types: client_credentials, password, refresh_token")
		cmd.fs.StringVar(&scopes, "scopes", "", "space-separated scopes the client may request")
		cmd.fs.StringVar(&audiences, "audience", "", "comma-separated aud values of its access tokens (required)")
		cmd.fs.BoolVar(&public, "public", false, "a public client: no secret (for password and refresh_token grants)")
		cmd.fs.StringVar(&tokenAlg, "token-alg", "", "algorithm of its access tokens: RS256 or EdDSA (default: the server's)")
	case "list":
		nargs, argName = 0, ""
	case "delete":
	default:
		return usagef("unknown clients command %q", sub)
	}
	if err := a.parse(cmd, args, nargs, argName); err != nil {
		return err
	}
	be, err := a.open(cmd.c, forAdmin)
	if err != nil {
		return err
	}
	defer be.Close()
	switch sub {
	case "add":
		c, secret, err := idp.NewClient(idp.ClientSpec{
			ID: cmd.args[0], GrantTypes: splitList(grantTypes, ","), Scopes: splitList(scopes, " "),
			Audiences: splitList(audiences, ","), Public: public, TokenAlg: tokenAlg,
		}, time.Now().UTC().Truncate(time.Microsecond))
		if err != nil {
			return err
		}
		if err := be.st.CreateClient(a.ctx, c); errors.Is(err, idp.ErrConflict) {
			return fmt.Errorf("a client with id %q already exists", c.ID)
		} else if err != nil {
			return err
		}
		if cmd.c.json {
			return a.printJSON(struct {
				ClientID     string `json:"client_id"`
				ClientSecret string `json:"client_secret,omitempty"`
			}{c.ID, secret})
		}
		fmt.Fprintf(a.stdout, "created client %s\n", c.ID)
		if secret != "" {
			fmt.Fprintf(a.stdout, "client_secret: %s\n(shown once: store it now; Rotor keeps only its hash)\n", secret)
		}
		return nil
	case "delete":
		if err := be.st.DeleteClient(a.ctx, cmd.args[0]); err != nil {
			return notFound(err, "client", cmd.args[0])
		}
		return a.done(cmd.c, map[string]string{"client_id": cmd.args[0], "status": "deleted"}, "deleted client %s and its refresh tokens", cmd.args[0])
	default: // list
		cs, err := be.st.Clients(a.ctx)
		if err != nil {
			return err
		}
		return printList(a, cmd.c.json, cs, clientJSONOf, "CLIENT\tTYPE\tGRANT TYPES\tSCOPES\tAUDIENCE\tALG", func(c idp.Client) string {
			kind, alg := "confidential", c.TokenAlg
			if c.Public {
				kind = "public"
			}
			if alg == "" {
				alg = "(default)"
			}
			return strings.Join([]string{c.ID, kind, strings.Join(c.GrantTypes, ","), strings.Join(c.Scopes, " "), strings.Join(c.Audiences, ","), alg}, "\t")
		})
	}
}

func (a *admin) keys(args []string) error {
	if len(args) == 0 {
		return usagef("usage: rotor keys list|rotate|revoke|rewrap|new-kek …")
	}
	sub, args := args[0], args[1:]
	if sub == "new-kek" {
		return a.newKEK(args)
	}
	var alg string
	var force bool
	nargs, argName := 0, ""
	cmd := a.newCommand("keys "+sub, func(c *config, fs *flag.FlagSet) { c.keyFlags(fs) })
	switch sub {
	case "list", "rewrap":
	case "rotate":
		cmd.fs.StringVar(&alg, "alg", "", "lane to rotate: RS256 or EdDSA (default: every lane)")
		cmd.fs.BoolVar(&force, "force", false, "rotate even if the next key has not been published for --key-propagation-delay (verifiers that have not refreshed their JWKS will reject new tokens until they do)")
	case "revoke":
		nargs, argName = 1, "KID"
	default:
		return usagef("unknown keys command %q", sub)
	}
	if err := a.parse(cmd, args, nargs, argName); err != nil {
		return err
	}
	policy, err := cmd.c.policy()
	if err != nil {
		return err
	}
	algs, err := cmd.c.algs()
	if err != nil {
		return err
	}
	be, err := a.open(cmd.c, forKeys)
	if err != nil {
		return err
	}
	defer be.Close()
	mgr, err := keys.NewManager(be.st, keys.Config{Algs: algs, Policy: policy, PollInterval: cmd.c.pollInterval, KEKs: be.keks,
		Logger: slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		return a.listKeys(mgr, cmd.c.json)
	case "rotate":
		lanes := algs
		if alg != "" {
			lanes = []keys.Alg{keys.Alg(alg)}
		}
		var results []keys.Rotation
		for _, l := range lanes {
			r, err := mgr.Rotate(a.ctx, l, force)
			if errors.Is(err, keys.ErrConcurrentRotation) {
				// Two admins (or an admin and the schedule) rotated at once:
				// one rotation happened, which is what both wanted.
				fmt.Fprintf(a.stderr, "%s: another process rotated this lane at the same moment; its rotation stands\n", l)
				continue
			}
			if err != nil {
				return fmt.Errorf("rotate %s: %w", l, err)
			}
			results = append(results, r)
			if !cmd.c.json {
				fmt.Fprintf(a.stdout, "%s: %s is now signing (retired %s); %s is published as next\n", r.Alg, r.Current, orDash(r.Retired), r.Next)
			}
		}
		if cmd.c.json {
			return a.printJSON(results)
		}
		return nil
	case "revoke":
		info, err := mgr.Revoke(a.ctx, cmd.args[0])
		if err != nil {
			return err
		}
		return a.done(cmd.c, info, "revoked key %s; it is gone from every JWKS within --key-poll-interval", cmd.args[0])
	default: // rewrap
		n, err := mgr.Rewrap(a.ctx)
		if err != nil {
			return err
		}
		return a.done(cmd.c, map[string]int{"rewrapped": n}, "re-encrypted %d keys under the first key-encryption key", n)
	}
}

func (a *admin) listKeys(mgr *keys.Manager, asJSON bool) error {
	infos, err := mgr.List(a.ctx)
	if err != nil {
		return err
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Format(time.RFC3339)
	}
	same := func(k keys.KeyInfo) keys.KeyInfo { return k }
	return printList(a, asJSON, infos, same, "KID\tALG\tSTATE\tCREATED\tACTIVATED\tRETIRED\tREVOKED", func(k keys.KeyInfo) string {
		return strings.Join([]string{k.KID, string(k.Alg), string(k.State), ts(k.CreatedAt), ts(k.ActivatedAt), ts(k.RetiredAt), ts(k.RevokedAt)}, "\t")
	})
}

// printList prints items as a JSON array (each converted by asJSON, which
// leaves out anything secret) or as a table with a header and one row each.
func printList[T, J any](a *admin, jsonOut bool, items []T, asJSON func(T) J, header string, row func(T) string) error {
	if jsonOut {
		out := make([]J, len(items))
		for i, it := range items {
			out[i] = asJSON(it)
		}
		return a.printJSON(out)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, it := range items {
		fmt.Fprintln(tw, row(it))
	}
	return tw.Flush()
}

func (a *admin) newKEK(args []string) error {
	var asJSON bool
	fs := flag.NewFlagSet("rotor keys new-kek", flag.ContinueOnError)
	fs.BoolVar(&asJSON, "json", false, "print JSON")
	if pos, err := parseFlags(fs, args, a.getenv, a.stderr); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("usage: rotor keys new-kek [--json]")
	}
	kek, err := keys.GenerateKEK()
	if err != nil {
		return err
	}
	if asJSON {
		return a.printJSON(map[string]string{"key_encryption_key": kek})
	}
	fmt.Fprintln(a.stdout, kek)
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
