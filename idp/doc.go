// Package idp is Rotor's HTTP surface: the OAuth 2.0 token, revocation and introspection endpoints, the JWKS, discovery metadata and health checks, with the grants and refresh-token rules behind them.
package idp
