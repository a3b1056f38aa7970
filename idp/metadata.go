package idp

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// metadata is the RFC 8414 §2 authorization server metadata.
type metadata struct {
	Issuer                           string   `json:"issuer"`
	TokenEndpoint                    string   `json:"token_endpoint"`
	JWKSURI                          string   `json:"jwks_uri"`
	RevocationEndpoint               string   `json:"revocation_endpoint"`
	IntrospectionEndpoint            string   `json:"introspection_endpoint"`
	GrantTypesSupported              []string `json:"grant_types_supported"`
	ResponseTypesSupported           []string `json:"response_types_supported"`
	TokenEndpointAuthMethods         []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethods    []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethods []string `json:"introspection_endpoint_auth_methods_supported"`
	// The algorithms access tokens are signed with, so a resource server can
	// set its allowlist; not an RFC 8414 member.
	AccessTokenAlgs []string `json:"access_token_signing_alg_values_supported"`
}

func (s *server) buildMetadata() []byte {
	base := strings.TrimSuffix(s.cfg.Issuer, "/")
	algs := make([]string, len(s.cfg.Algs))
	for i, a := range s.cfg.Algs {
		algs[i] = string(a)
	}
	auth := []string{"client_secret_basic", "client_secret_post", "none"}
	m := metadata{
		Issuer:                           s.cfg.Issuer,
		TokenEndpoint:                    base + "/oauth2/token",
		JWKSURI:                          base + "/.well-known/jwks.json",
		RevocationEndpoint:               base + "/oauth2/revoke",
		IntrospectionEndpoint:            base + "/oauth2/introspect",
		GrantTypesSupported:              grantTypes,
		ResponseTypesSupported:           []string{}, // no authorization endpoint yet
		TokenEndpointAuthMethods:         auth,
		RevocationEndpointAuthMethods:    auth,
		IntrospectionEndpointAuthMethods: auth[:2],
		AccessTokenAlgs:                  algs,
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic("idp: marshal metadata: " + err.Error())
	}
	return b
}

// handleMetadata serves RFC 8414 metadata, also at the OpenID Connect
// discovery path so generic JWKS clients find jwks_uri there.
func (s *server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("Content-Length", strconv.Itoa(len(s.metadata)))
	_, _ = w.Write(s.metadata)
}
