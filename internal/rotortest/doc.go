// Package rotortest runs Rotor deployments of real processes (rotor serve replicas, the example API) for end-to-end tests.
package rotortest
