// Command rotor-load measures a Rotor deployment it starts on loopback: throughput, latency, errors and server CPU per request for each grant and algorithm, the JWKS and the example API.
package main
