package idp

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rotor-idp/rotor/keys"
)

// AuthPrivateKeyJWT is the client authentication method in which a client
// signs an assertion with its own key (RFC 7523 §2.2, OIDC Core §9): Rotor
// keeps only the public keys.
const AuthPrivateKeyJWT = "private_key_jwt"

// ClientSecretPrefix starts every client secret Rotor generates.
const ClientSecretPrefix = "rcs_"

const (
	maxClientIDLen = 128
	maxSecretLen   = 256
)

// ClientSpec describes a client to create.
type ClientSpec struct {
	ID         string
	GrantTypes []string
	Scopes     []string
	Audiences  []string
	Public     bool
	TokenAlg   string // "" (the server default) or an algorithm keys.ParseAlg accepts

	// Introspect lets the client introspect access tokens issued to other
	// clients (RFC 7662 §2.2): a resource server that checks users' tokens.
	// Without it, introspection answers only about the client's own tokens.
	Introspect bool
	// AllowPublicPassword lets a public client use the password grant:
	// password login with no client authentication at all (RFC 9700 §2.4).
	AllowPublicPassword bool

	// Browser sign-in; checked by checkSignIn (redirect.go).
	Name                   string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	FirstParty             bool

	RequireDPoP bool // every token request must carry a DPoP proof

	// AuthMethod "" gives a confidential client a secret; AuthPrivateKeyJWT
	// registers JWKS (public keys, see ParseClientJWKS) instead.
	AuthMethod string
	JWKS       []byte
	JWKSURI    string // instead of JWKS: where the client publishes them (see CheckJWKSURI)
}

// NewClient validates spec and returns the client to store and, for a
// confidential client, its secret: 256 random bits, shown once. Only the
// secret's SHA-256 is kept — a slow hash buys nothing for a random secret and
// would cap the client credentials grant at a few requests per second.
func NewClient(spec ClientSpec, now time.Time) (Client, string, error) {
	if err := validID(spec.ID); err != nil {
		return Client{}, "", fmt.Errorf("client id: %w", err)
	}
	if len(spec.GrantTypes) == 0 {
		return Client{}, "", errors.New("at least one grant type is required")
	}
	for _, g := range spec.GrantTypes {
		if !slices.Contains(grantTypes, g) && g != GrantAuthorizationCode {
			return Client{}, "", fmt.Errorf("unknown grant type %q (want %s, %s)", g, GrantAuthorizationCode, strings.Join(grantTypes, ", "))
		}
	}
	if err := checkClientKind(spec); err != nil {
		return Client{}, "", err
	}
	for _, sc := range spec.Scopes {
		if !validScopeToken(sc) {
			return Client{}, "", fmt.Errorf("invalid scope %q", sc)
		}
	}
	if len(spec.Audiences) == 0 {
		return Client{}, "", errors.New("at least one audience is required (RFC 9068 §2.2)")
	}
	for _, a := range spec.Audiences {
		if a == "" || len(a) > 512 {
			return Client{}, "", fmt.Errorf("invalid audience %q", a)
		}
	}
	if err := checkSignIn(spec); err != nil {
		return Client{}, "", err
	}
	if spec.TokenAlg != "" {
		if _, err := keys.ParseAlg(spec.TokenAlg); err != nil {
			return Client{}, "", fmt.Errorf("token algorithm: %w", err)
		}
	}
	c := Client{
		ID: spec.ID, Public: spec.Public, TokenAlg: spec.TokenAlg, CreatedAt: now,
		GrantTypes: dedupe(spec.GrantTypes), Scopes: dedupe(spec.Scopes), Audiences: dedupe(spec.Audiences),
		Name: spec.Name, RedirectURIs: dedupe(spec.RedirectURIs), PostLogoutRedirectURIs: dedupe(spec.PostLogoutRedirectURIs),
		FirstParty: spec.FirstParty, Introspect: spec.Introspect, RequireDPoP: spec.RequireDPoP,
	}
	switch {
	case spec.AuthMethod == AuthPrivateKeyJWT && spec.Public:
		return Client{}, "", errors.New("a public client cannot authenticate; private_key_jwt is for confidential clients")
	case spec.AuthMethod == AuthPrivateKeyJWT && len(spec.JWKS) > 0 && spec.JWKSURI != "":
		return Client{}, "", errors.New("client keys: give a JWKS or a jwks_uri, not both")
	case spec.AuthMethod == AuthPrivateKeyJWT && spec.JWKSURI != "":
		if err := CheckJWKSURI(spec.JWKSURI); err != nil {
			return Client{}, "", fmt.Errorf("client keys: %w", err)
		}
		c.AuthMethod, c.JWKSURI = AuthPrivateKeyJWT, spec.JWKSURI
		return c, "", nil
	case spec.AuthMethod == AuthPrivateKeyJWT:
		jwks, err := ParseClientJWKS(spec.JWKS)
		if err != nil {
			return Client{}, "", fmt.Errorf("client keys: %w", err)
		}
		c.AuthMethod, c.JWKS = AuthPrivateKeyJWT, jwks
		return c, "", nil
	case spec.AuthMethod != "":
		return Client{}, "", fmt.Errorf("unknown authentication method %q (want %s, or none for a client secret)", spec.AuthMethod, AuthPrivateKeyJWT)
	case len(spec.JWKS) > 0 || spec.JWKSURI != "":
		return Client{}, "", errors.New("keys are only for --auth-method " + AuthPrivateKeyJWT)
	case spec.Public:
		return c, "", nil
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	secret := ClientSecretPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(secret))
	c.SecretHash = sum[:]
	return c, secret, nil
}

// checkClientKind refuses what a public client must not do: the
// client_credentials grant (it has no credentials), introspection (RFC 7662
// §2.1 wants the caller authenticated), and the password grant unless asked
// for explicitly.
func checkClientKind(spec ClientSpec) error {
	switch {
	case !spec.Public && spec.AllowPublicPassword:
		return errors.New("allow-public-password is for public clients")
	case !spec.Public:
		return nil
	case slices.Contains(spec.GrantTypes, GrantClientCredentials):
		return errors.New("a public client cannot use client_credentials (RFC 6749 §4.4)")
	case spec.Introspect:
		return errors.New("a public client cannot introspect: RFC 7662 §2.1 requires the caller to authenticate")
	case slices.Contains(spec.GrantTypes, GrantPassword) && !spec.AllowPublicPassword:
		return errors.New("a public client with the password grant is password login without client authentication, " +
			"open to anyone who knows the client ID (RFC 9700 §2.4); use authorization_code with PKCE, " +
			"or confirm with allow-public-password")
	}
	return nil
}

// validID accepts client ids that are safe in URLs, logs and Basic auth,
// and that can never equal a user's ID: a client_credentials token's sub is
// the client ID, a user's token's sub the user ID (RFC 9068 §5 wants them
// apart). User IDs are always generated, 16 random bytes in base64url (22
// characters), so a client ID of that shape is refused and no other can
// collide.
func validID(id string) error {
	if id == "" || len(id) > maxClientIDLen {
		return fmt.Errorf("must be 1 to %d characters", maxClientIDLen)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return errors.New("may contain only letters, digits, '-', '_' and '.'")
		}
	}
	if looksLikeUserID(id) {
		return errors.New("has the shape of a user ID (22 base64url characters), which a token's sub could not tell apart from a user's")
	}
	return nil
}

// looksLikeUserID reports whether id could be a user ID randomID made.
func looksLikeUserID(id string) bool {
	b, err := base64.RawURLEncoding.Strict().DecodeString(id)
	return err == nil && len(b) == 16
}

func dedupe(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
