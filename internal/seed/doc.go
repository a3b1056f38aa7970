// Package seed fills a Rotor database, Postgres or embedded, with many users, clients and refresh-token families, for measuring how Rotor's cost grows with its data.
package seed
