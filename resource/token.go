package resource

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/rotor-idp/rotor/internal/jws"
)

// MaxTokenSize is the largest token Verify decodes; longer ones are rejected
// before any decoding (RFC 8725 §3.1 asks verifiers to be robust against
// malicious tokens). Rotor's tokens are well under 2 KiB.
const MaxTokenSize = jws.MaxTokenSize

// Claims are the verified claims of a Rotor access token (RFC 9068 §2.2).
//
// A Claims value is immutable from the caller's point of view: the exported
// fields are copied with the value, and the slices behind Audience and Scopes
// are only handed out as copies, so changing what Verify or ClaimsFrom
// returned never changes what the verifier has cached.
type Claims struct {
	Issuer    string    // iss, equal to Config.Issuer
	Subject   string    // sub: a stable user id, or the client id for client_credentials
	ClientID  string    // client_id
	JWTID     string    // jti
	ExpiresAt time.Time // exp
	IssuedAt  time.Time // iat
	NotBefore time.Time // nbf; zero when absent
	// JKT is cnf.jkt: the thumbprint of the DPoP key the token is bound to
	// (RFC 9449 §6.1); "" for a bearer token. Authenticate and
	// VerifyRequest require a proof by that key for a bound token.
	JKT string

	audience []string
	scopes   []string
	raw      []byte // the decoded claims set, never written after decoding
}

// Audience returns a copy of the aud claim as a list.
func (c Claims) Audience() []string { return slices.Clone(c.audience) }

// Scopes returns a copy of the granted scopes: the space-delimited scope claim
// (RFC 9068 §2.2.3, RFC 6749 §3.3) followed by the entries of an scp array.
func (c Claims) Scopes() []string { return slices.Clone(c.scopes) }

// HasScope reports whether scope was granted.
func (c Claims) HasScope(scope string) bool { return slices.Contains(c.scopes, scope) }

// Decode unmarshals the whole claims set into v with encoding/json, for
// claims this type does not name. Changing v does not change c.
func (c Claims) Decode(v any) error { return json.Unmarshal(c.raw, v) }

// checkClaims applies RFC 9068 §4 and RFC 7519 §4.1 to the claims of a
// verified token; jws.Verify has decoded them strictly.
func (v *Verifier) checkClaims(t jws.Token, now time.Time) (Claims, error) {
	rc := &t.Claims
	// Exact comparison, no normalisation (RFC 9068 §4 step 3, RFC 8414 §3.3).
	if rc.Issuer != v.issuer {
		return Claims{}, errIssuer
	}
	if !slices.Contains(rc.Audience, v.audience) {
		return Claims{}, errAudience
	}
	if !rc.ExpiresAt.Set {
		return Claims{}, errNoExp
	}
	// RFC 7519 §4.1.4: the current time must be before exp.
	if !now.Before(rc.ExpiresAt.Time.Add(v.leeway)) {
		return Claims{}, errExpired
	}
	if rc.NotBefore.Set && now.Add(v.leeway).Before(rc.NotBefore.Time) {
		return Claims{}, errNotYetValid
	}
	if !rc.IssuedAt.Set {
		return Claims{}, errNoIat
	}
	if now.Add(v.leeway).Before(rc.IssuedAt.Time) {
		return Claims{}, errIatFuture
	}
	if rc.Subject == "" {
		return Claims{}, errNoSub
	}
	// RFC 9068 §2.2 makes both required, and Rotor always sets them.
	if rc.ClientID == "" {
		return Claims{}, errNoClientID
	}
	if rc.JWTID == "" {
		return Claims{}, errNoJTI
	}
	if rc.CnfOther {
		// A confirmation this library cannot check (mTLS, a raw jwk):
		// treating the token as bearer would defeat it.
		return Claims{}, errCnf
	}
	c := Claims{
		Issuer:    rc.Issuer,
		Subject:   rc.Subject,
		ClientID:  rc.ClientID,
		JWTID:     rc.JWTID,
		ExpiresAt: rc.ExpiresAt.Time,
		IssuedAt:  rc.IssuedAt.Time,
		JKT:       rc.CnfJKT,
		audience:  rc.Audience,
		raw:       t.Payload,
	}
	if rc.NotBefore.Set {
		c.NotBefore = rc.NotBefore.Time
	}
	scopes := strings.Fields(rc.Scope)
	for _, s := range rc.Scp {
		// Some issuers send scp as one space-delimited string.
		scopes = append(scopes, strings.Fields(s)...)
	}
	if len(scopes) > 0 {
		c.scopes = scopes
	}
	return c, nil
}
