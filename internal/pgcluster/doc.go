// Package pgcluster starts and supervises throwaway Postgres clusters from the machine's initdb/postgres binaries, for the tests' harness and the load command; it does not import testing, so binaries may use it.
package pgcluster
