// Package migrations holds Rotor's Postgres schema as embedded goose migrations and applies them under a database lock so that replicas starting together migrate once.
package migrations
