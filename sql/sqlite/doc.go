// Package sqlite is Rotor's zero-setup embedded store: one SQLite database file in a data directory, shared safely by the serving process and short-lived admin commands.
package sqlite
