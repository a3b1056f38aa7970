// Command example-api is a small resource server on Rotor: the schedule API, verifying Rotor access tokens through the JWKS with package resource.
package main
