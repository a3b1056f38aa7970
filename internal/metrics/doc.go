// Package metrics holds Rotor's Prometheus plumbing outside the HTTP
// handlers: the registry with the Go and process collectors, the key ring
// and store collectors read at scrape time, and the /metrics listener.
package metrics
