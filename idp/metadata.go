package idp

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/rotor-idp/rotor/internal/dpop"
	"github.com/rotor-idp/rotor/keys"
)

// metadata is the RFC 8414 §2 authorization server metadata, which is also
// OpenID Connect Discovery 1.0 §3 provider metadata: one document serves both
// paths.
type metadata struct {
	Issuer                           string   `json:"issuer"`
	AuthorizationEndpoint            string   `json:"authorization_endpoint"`
	TokenEndpoint                    string   `json:"token_endpoint"`
	UserInfoEndpoint                 string   `json:"userinfo_endpoint"`
	EndSessionEndpoint               string   `json:"end_session_endpoint"` // RP-Initiated Logout 1.0 §2.1
	JWKSURI                          string   `json:"jwks_uri"`
	RevocationEndpoint               string   `json:"revocation_endpoint"`
	IntrospectionEndpoint            string   `json:"introspection_endpoint"`
	ScopesSupported                  []string `json:"scopes_supported"`
	ResponseTypesSupported           []string `json:"response_types_supported"`
	ResponseModesSupported           []string `json:"response_modes_supported"`
	GrantTypesSupported              []string `json:"grant_types_supported"`
	SubjectTypesSupported            []string `json:"subject_types_supported"`
	IDTokenAlgs                      []string `json:"id_token_signing_alg_values_supported"`
	ClaimsSupported                  []string `json:"claims_supported"`
	CodeChallengeMethods             []string `json:"code_challenge_methods_supported"`
	PromptValuesSupported            []string `json:"prompt_values_supported"`
	IssParameterSupported            bool     `json:"authorization_response_iss_parameter_supported"` // RFC 9207 §3
	RequestParameterSupported        bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported     bool     `json:"request_uri_parameter_supported"`
	ClaimsParameterSupported         bool     `json:"claims_parameter_supported"`
	TokenEndpointAuthMethods         []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethods    []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethods []string `json:"introspection_endpoint_auth_methods_supported"`
	// The algorithms access tokens are signed with, so a resource server can
	// set its allowlist; not an RFC 8414 member.
	AccessTokenAlgs []string `json:"access_token_signing_alg_values_supported"`
	// private_key_jwt assertion algorithms (RFC 8414 §2).
	TokenEndpointAuthAlgs         []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	RevocationEndpointAuthAlgs    []string `json:"revocation_endpoint_auth_signing_alg_values_supported"`
	IntrospectionEndpointAuthAlgs []string `json:"introspection_endpoint_auth_signing_alg_values_supported"`
	DPoPAlgs                      []string `json:"dpop_signing_alg_values_supported"` // RFC 9449 §5.1
}

func (s *server) buildMetadata() []byte {
	base := strings.TrimSuffix(s.cfg.Issuer, "/")
	algs := make([]string, len(s.cfg.Algs))
	for i, a := range s.cfg.Algs {
		algs[i] = string(a)
	}
	// RS256 first: OpenID Connect Discovery §3 requires it listed.
	var idAlgs []string
	if s.hasAlg(keys.RS256) {
		idAlgs = append(idAlgs, string(keys.RS256))
	}
	for _, a := range algs {
		if a != string(keys.RS256) {
			idAlgs = append(idAlgs, a)
		}
	}
	auth := []string{"client_secret_basic", "client_secret_post", AuthPrivateKeyJWT, "none"}
	m := metadata{
		Issuer:                 s.cfg.Issuer,
		AuthorizationEndpoint:  base + "/oauth2/authorize",
		TokenEndpoint:          base + "/oauth2/token",
		UserInfoEndpoint:       base + "/oauth2/userinfo",
		EndSessionEndpoint:     base + "/oauth2/logout",
		JWKSURI:                base + "/.well-known/jwks.json",
		RevocationEndpoint:     base + "/oauth2/revoke",
		IntrospectionEndpoint:  base + "/oauth2/introspect",
		ScopesSupported:        []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeOfflineAccess},
		ResponseTypesSupported: []string{"code"},
		ResponseModesSupported: []string{"query"},
		GrantTypesSupported:    grantTypes,
		SubjectTypesSupported:  []string{"public"},
		IDTokenAlgs:            idAlgs,
		ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash", "sid", "amr",
			"preferred_username", "name", "email", "email_verified"},
		CodeChallengeMethods:             []string{"S256"},
		PromptValuesSupported:            []string{"none", "login", "consent", "select_account"},
		IssParameterSupported:            true,
		TokenEndpointAuthMethods:         auth,
		RevocationEndpointAuthMethods:    auth,
		IntrospectionEndpointAuthMethods: auth[:3],
		TokenEndpointAuthAlgs:            AssertionAlgs,
		RevocationEndpointAuthAlgs:       AssertionAlgs,
		IntrospectionEndpointAuthAlgs:    AssertionAlgs,
		AccessTokenAlgs:                  algs,
		DPoPAlgs:                         dpop.DefaultAlgs,
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic("idp: marshal metadata: " + err.Error())
	}
	return b
}

// handleMetadata serves the metadata at both well-known paths (RFC 8414
// §3, OpenID Connect Discovery 1.0 §4).
func (s *server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("Content-Length", strconv.Itoa(len(s.metadata)))
	_, _ = w.Write(s.metadata)
}
