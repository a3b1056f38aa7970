package pgcluster

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rotor-idp/rotor/sql/postgres/migrations"
)

// NewMigrated finds the binaries l names, starts a cluster and creates a
// database db with Rotor's Postgres migrations applied; URL(db) reaches it.
// Without binaries it returns a *MissingError. The caller must Destroy the
// cluster.
func NewMigrated(ctx context.Context, l Lookup, db string) (*Cluster, error) {
	bins, err := l.Find()
	if err != nil {
		return nil, err
	}
	c, err := New(bins)
	if err != nil {
		return nil, err
	}
	if err := Exec(ctx, c.AdminURL(), "CREATE DATABASE "+pgx.Identifier{db}.Sanitize()); err != nil {
		c.Destroy()
		return nil, fmt.Errorf("pgcluster: create database: %w", err)
	}
	if err := migrations.Up(ctx, c.URL(db)); err != nil {
		c.Destroy()
		return nil, fmt.Errorf("pgcluster: migrate: %w", err)
	}
	return c, nil
}

// Exec runs one statement on a connection of its own to url: CREATE and DROP
// DATABASE cannot run inside a transaction or a pool-managed session anyway.
// It gives up after a minute.
func Exec(ctx context.Context, url, stmt string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, stmt)
	return err
}

// WithDatabase returns the connection string admin with its database
// replaced by name; it takes postgres:// URLs and keyword/value strings.
func WithDatabase(admin, name string) string {
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// Keyword/value strings: a later dbname wins.
		return strings.TrimSpace(admin) + " dbname=" + name
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}
