// Package pgtest gives tests real, throwaway Postgres databases: a cluster started from the machine's initdb/postgres binaries (or the server in ROTOR_TEST_DATABASE_URL), one fresh migrated database per test, and dedicated clusters that a test can stop and start.
package pgtest
