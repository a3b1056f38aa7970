package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/internal/audit"
)

// clientsFlags are the flags of every clients command.
var clientsFlags = []flagger{(*config).storeFlags, (*config).jsonFlag, (*config).auditFlags}

var clientsCommands = []command{
	{group: "clients", name: "add", args: []string{"ID"},
		synopsis: `--grant-types a,b --scopes "x y" --audience a1,a2 [--public] [--token-alg RS256|EdDSA] ` +
			`[--redirect-uris u1,u2] [--first-party] [--name NAME]`,
		flags: append([]flagger{(*config).clientFlags}, clientsFlags...), run: withStore(forAdmin, clientsAdd)},
	{group: "clients", name: "list",
		flags: clientsFlags, run: withStore(forAdmin, clientsList)},
	{group: "clients", name: "delete", args: []string{"ID"},
		flags: clientsFlags, run: withStore(forAdmin, clientsDelete)},
}

// clientSpec is what the flags of `clients add` say about the new client.
type clientSpec struct {
	grantTypes, scopes, audiences, tokenAlg string
	public                                  bool

	// browser sign-in
	name                     string
	redirectURIs, logoutURIs listFlag
	firstParty               bool
}

// clientFlags describe a new client.
func (c *config) clientFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.client.grantTypes, "grant-types", idp.GrantClientCredentials, "comma-separated grant types: authorization_code, client_credentials, password, refresh_token")
	fs.StringVar(&c.client.scopes, "scopes", "", "space-separated scopes the client may request")
	fs.StringVar(&c.client.audiences, "audience", "", "comma-separated aud values of its access tokens (required)")
	fs.BoolVar(&c.client.public, "public", false, "a public client: no secret (for password and refresh_token grants)")
	fs.StringVar(&c.client.tokenAlg, "token-alg", "", "algorithm of its access tokens: RS256 or EdDSA (default: the server's)")
	fs.Var(&c.client.redirectURIs, "redirect-uris", "redirect URIs for authorization_code, matched exactly (http only on 127.0.0.1 and [::1], any port); comma-separated or repeated")
	fs.Var(&c.client.logoutURIs, "post-logout-redirect-uris", "where logout may send the browser back to, matched like redirect URIs")
	fs.BoolVar(&c.client.firstParty, "first-party", false, "a first-party app: users are not asked for consent")
	fs.StringVar(&c.client.name, "name", "", "name shown on the login and consent pages (default: the client ID)")
}

func clientsAdd(ctx context.Context, in *invocation, be *backend) error {
	f := in.cfg.client
	c, secret, err := idp.NewClient(idp.ClientSpec{
		ID: in.args[0], GrantTypes: splitList(f.grantTypes, ","), Scopes: splitList(f.scopes, " "),
		Audiences: splitList(f.audiences, ","), Public: f.public, TokenAlg: f.tokenAlg,
		Name: f.name, RedirectURIs: f.redirectURIs, PostLogoutRedirectURIs: f.logoutURIs, FirstParty: f.firstParty,
	}, now())
	if err != nil {
		return err
	}
	if err := be.st.CreateClient(ctx, c); errors.Is(err, idp.ErrConflict) {
		return fmt.Errorf("a client with id %q already exists", c.ID)
	} else if err != nil {
		return err
	}
	in.audit(ctx, audit.ClientCreated, slog.String("client_id", c.ID), slog.Bool("public", c.Public),
		slog.String("grant_types", strings.Join(c.GrantTypes, " ")))
	// The secret is printed here once and never again: the store keeps only
	// its hash.
	if in.cfg.json {
		return in.printJSON(struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret,omitempty"`
		}{c.ID, secret})
	}
	fmt.Fprintf(in.stdout, "created client %s\n", c.ID)
	if secret != "" {
		fmt.Fprintf(in.stdout, "client_secret: %s\n(shown once: store it now; Rotor keeps only its hash)\n", secret)
	}
	return nil
}

func clientsDelete(ctx context.Context, in *invocation, be *backend) error {
	id := in.args[0]
	if err := be.st.DeleteClient(ctx, id); err != nil {
		return notFound(err, "client", id)
	}
	in.audit(ctx, audit.ClientDeleted, slog.String("client_id", id))
	return in.done(map[string]string{"client_id": id, "status": "deleted"}, "deleted client %s and its refresh tokens", id)
}

func clientsList(ctx context.Context, in *invocation, be *backend) error {
	cs, err := be.st.Clients(ctx)
	if err != nil {
		return err
	}
	return printList(in, cs, clientJSONOf, "CLIENT\tTYPE\tGRANT TYPES\tSCOPES\tAUDIENCE\tALG\tREDIRECT URIS", func(c idp.Client) string {
		kind, alg := "confidential", c.TokenAlg
		if c.Public {
			kind = "public"
		}
		if c.FirstParty {
			kind += ",first-party"
		}
		if alg == "" {
			alg = "(default)"
		}
		return strings.Join([]string{c.ID, kind, strings.Join(c.GrantTypes, ","), strings.Join(c.Scopes, " "),
			strings.Join(c.Audiences, ","), alg, orDash(strings.Join(c.RedirectURIs, ","))}, "\t")
	})
}

// clientJSON is a client as `clients list --json` prints it: no secret
// material, not even its hash.
type clientJSON struct {
	ClientID               string    `json:"client_id"`
	Name                   string    `json:"client_name,omitempty"` // RFC 7591 §2 names
	Public                 bool      `json:"public"`
	FirstParty             bool      `json:"first_party"`
	GrantTypes             []string  `json:"grant_types"`
	Scopes                 []string  `json:"scopes"`
	Audiences              []string  `json:"audiences"`
	TokenAlg               string    `json:"token_alg,omitempty"`
	RedirectURIs           []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	CreatedAt              time.Time `json:"created_at"`
}

func clientJSONOf(c idp.Client) clientJSON {
	return clientJSON{ClientID: c.ID, Name: c.Name, Public: c.Public, FirstParty: c.FirstParty, GrantTypes: c.GrantTypes,
		Scopes: c.Scopes, Audiences: c.Audiences, TokenAlg: c.TokenAlg,
		RedirectURIs: emptyIfNone(c.RedirectURIs), PostLogoutRedirectURIs: emptyIfNone(c.PostLogoutRedirectURIs), CreatedAt: c.CreatedAt}
}

// emptyIfNone makes a missing list print as [] rather than null.
func emptyIfNone(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// splitList splits s at sep and drops empty and surrounding space.
func splitList(s, sep string) []string {
	var out []string
	for _, f := range strings.Split(s, sep) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
