// Package postgres is Rotor's Postgres store: users, clients, refresh-token families and the signing-key ring, shared by any number of replicas, with its schema migrations embedded.
package postgres
