package idp

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
	"github.com/rotor-idp/rotor/keys"
)

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
	TokenAlg   string // "", "RS256" or "EdDSA"

	// Browser sign-in; checked by checkSignIn (redirect.go).
	Name                   string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	FirstParty             bool
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
		switch g {
		case GrantClientCredentials, GrantPassword, GrantRefreshToken, GrantAuthorizationCode:
		default:
			return Client{}, "", fmt.Errorf("unknown grant type %q (want authorization_code, client_credentials, password or refresh_token)", g)
		}
	}
	if spec.Public && slices.Contains(spec.GrantTypes, GrantClientCredentials) {
		return Client{}, "", errors.New("a public client cannot use client_credentials (RFC 6749 §4.4)")
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
	switch keys.Alg(spec.TokenAlg) {
	case "", keys.RS256, keys.EdDSA:
	default:
		return Client{}, "", fmt.Errorf("unknown token algorithm %q (want RS256 or EdDSA)", spec.TokenAlg)
	}
	c := Client{
		ID: spec.ID, Public: spec.Public, TokenAlg: spec.TokenAlg, CreatedAt: now,
		GrantTypes: dedupe(spec.GrantTypes), Scopes: dedupe(spec.Scopes), Audiences: dedupe(spec.Audiences),
		Name: spec.Name, RedirectURIs: dedupe(spec.RedirectURIs), PostLogoutRedirectURIs: dedupe(spec.PostLogoutRedirectURIs),
		FirstParty: spec.FirstParty,
	}
	if spec.Public {
		return c, "", nil
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	secret := ClientSecretPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(secret))
	c.SecretHash = sum[:]
	return c, secret, nil
}

// NewUser validates name and password and returns the user to store.
func NewUser(name, password string, p argon2id.Params, now time.Time) (User, error) {
	if err := validName(name); err != nil {
		return User{}, fmt.Errorf("user name: %w", err)
	}
	if err := CheckPassword(password); err != nil {
		return User{}, err
	}
	h, err := HashPassword(password, p)
	if err != nil {
		return User{}, err
	}
	return User{ID: randomID(), Name: name, PasswordHash: h, CreatedAt: now, UpdatedAt: now}, nil
}

// validID accepts client ids that are safe in URLs, logs and Basic auth.
func validID(id string) error {
	if id == "" || len(id) > maxClientIDLen {
		return fmt.Errorf("must be 1 to %d characters", maxClientIDLen)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return errors.New("may contain only letters, digits, '-', '_' and '.'")
		}
	}
	return nil
}

// validName accepts UTF-8 user names without control characters or spaces
// at the ends, so a name always means what it shows.
func validName(name string) error {
	if name == "" || len(name) > maxUsernameLen {
		return fmt.Errorf("must be 1 to %d bytes", maxUsernameLen)
	}
	if !utf8.ValidString(name) {
		return errors.New("must be valid UTF-8")
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f {
			return errors.New("may not contain control characters")
		}
	}
	if name[0] == ' ' || name[len(name)-1] == ' ' {
		return errors.New("may not start or end with a space")
	}
	return nil
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
