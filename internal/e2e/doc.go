// Package e2e holds Rotor's end-to-end tests: real rotor processes, the example API, Postgres and third-party clients together.
package e2e
