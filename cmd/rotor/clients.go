package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
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
			`[--redirect-uris u1,u2] [--first-party] [--name NAME] [--introspect] [--allow-public-password] [--require-dpop] [--auth-method private_key_jwt --jwks-file F | --jwks-uri URL]`,
		flags: append([]flagger{(*config).clientFlags}, clientsFlags...), run: withStore(forAdmin, clientsAdd)},
	{group: "clients", name: "set-keys", args: []string{"ID"}, synopsis: "--jwks-file F | --jwks-uri URL",
		flags: append([]flagger{(*config).clientKeyFlags}, clientsFlags...), run: withStore(forAdmin, clientsSetKeys)},
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

	introspect, allowPublicPassword bool
	requireDPoP                     bool
	authMethod                      string
	jwksFile                        string
	jwksURI                         string
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
	fs.BoolVar(&c.client.requireDPoP, "require-dpop", false, "every token request must carry a DPoP proof: its tokens are bound to the client's key (RFC 9449)")
	fs.StringVar(&c.client.authMethod, "auth-method", "", "private_key_jwt: the client signs assertions with its own key (RFC 7523) and gets no secret; needs --jwks-file or --jwks-uri")
	c.clientKeyFlags(fs)
	fs.StringVar(&c.client.name, "name", "", "name shown on the login and consent pages (default: the client ID)")
	fs.BoolVar(&c.client.introspect, "introspect", false, "may introspect access tokens issued to other clients (a resource server); without it, only its own")
	fs.BoolVar(&c.client.allowPublicPassword, "allow-public-password", false,
		"let a --public client use the password grant: password login with no client authentication (RFC 9700 §2.4); prefer authorization_code")
}

// clientKeyFlags name a client's public keys: a file, or the URL the client
// publishes them at.
func (c *config) clientKeyFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.client.jwksFile, "jwks-file", "", "the client's public keys, a JWKS file (RS256, PS256, ES256 or EdDSA; private members are refused)")
	fs.StringVar(&c.client.jwksURI, "jwks-uri", "", "instead of --jwks-file: the https URL the client publishes its public keys at, fetched and cached by Rotor (http only on loopback)")
}

// readJWKS reads --jwks-file, if given.
func readJWKS(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--jwks-file: %w", err)
	}
	return b, nil
}

func clientsSetKeys(ctx context.Context, in *invocation, be *backend) error {
	raw, err := readJWKS(in.cfg.client.jwksFile)
	if err != nil {
		return err
	}
	uri := in.cfg.client.jwksURI
	switch {
	case raw == nil && uri == "":
		return usagef("--jwks-file or --jwks-uri is required")
	case raw != nil && uri != "":
		return usagef("give --jwks-file or --jwks-uri, not both")
	}
	id := in.args[0]
	if uri != "" {
		if err := idp.CheckJWKSURI(uri); err != nil {
			return fmt.Errorf("client keys: %w", err)
		}
		err = be.st.SetClientKeysURI(ctx, id, uri)
	} else {
		jwks, perr := idp.ParseClientJWKS(raw)
		if perr != nil {
			return fmt.Errorf("client keys: %w", perr)
		}
		err = be.st.SetClientKeys(ctx, id, jwks)
	}
	if err != nil {
		return notFound(err, "private_key_jwt client", id)
	}
	in.audit(ctx, audit.ClientKeysChanged, slog.String("client_id", id))
	return in.done(map[string]string{"client_id": id, "status": "keys replaced"}, "replaced the keys of client %s", id)
}

func clientsAdd(ctx context.Context, in *invocation, be *backend) error {
	f := in.cfg.client
	jwks, err := readJWKS(f.jwksFile)
	if err != nil {
		return err
	}
	c, secret, err := idp.NewClient(idp.ClientSpec{
		ID: in.args[0], GrantTypes: splitList(f.grantTypes, ","), Scopes: splitList(f.scopes, " "),
		Audiences: splitList(f.audiences, ","), Public: f.public, TokenAlg: f.tokenAlg,
		Name: f.name, RedirectURIs: f.redirectURIs, PostLogoutRedirectURIs: f.logoutURIs, FirstParty: f.firstParty,
		Introspect: f.introspect, AllowPublicPassword: f.allowPublicPassword,
		RequireDPoP: f.requireDPoP, AuthMethod: f.authMethod, JWKS: jwks, JWKSURI: f.jwksURI,
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
		slog.String("grant_types", strings.Join(c.GrantTypes, " ")), slog.String("auth_method", c.AuthMethod),
		slog.Bool("require_dpop", c.RequireDPoP))
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
		if c.Introspect {
			kind += ",introspect"
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
	Introspect             bool      `json:"introspect"`
	GrantTypes             []string  `json:"grant_types"`
	Scopes                 []string  `json:"scopes"`
	Audiences              []string  `json:"audiences"`
	TokenAlg               string    `json:"token_alg,omitempty"`
	RequireDPoP            bool      `json:"dpop_bound_access_tokens"`             // RFC 9449 §5.2
	AuthMethod             string    `json:"token_endpoint_auth_method,omitempty"` // RFC 7591 §2
	JWKSURI                string    `json:"jwks_uri,omitempty"`                   // RFC 7591 §2
	RedirectURIs           []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	CreatedAt              time.Time `json:"created_at"`
}

func clientJSONOf(c idp.Client) clientJSON {
	return clientJSON{ClientID: c.ID, Name: c.Name, Public: c.Public, FirstParty: c.FirstParty, Introspect: c.Introspect, GrantTypes: c.GrantTypes,
		Scopes: c.Scopes, Audiences: c.Audiences, TokenAlg: c.TokenAlg, RequireDPoP: c.RequireDPoP, AuthMethod: c.AuthMethod, JWKSURI: c.JWKSURI,
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
