// Package keys generates, encrypts, rotates and uses Rotor's asymmetric signing keys.
package keys
