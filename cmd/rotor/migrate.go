package main

import (
	"context"
	"fmt"

	"github.com/rotor-idp/rotor/sql/postgres"
	"github.com/rotor-idp/rotor/sql/sqlite"
)

var migrateCommand = command{
	name:     "migrate",
	synopsis: "[flags]",
	summary:  "apply database migrations",
	flags:    []flagger{(*config).storeFlags, (*config).jsonFlag},
	run:      migrate,
}

// migrate brings the store's schema up to date. Opening a store migrates it
// too; this command lets a deployment do it before the first replica starts.
func migrate(ctx context.Context, in *invocation) error {
	var err error
	if in.cfg.database == "" {
		err = sqlite.Migrate(ctx, in.cfg.dataDir)
	} else {
		err = postgres.Migrate(ctx, in.cfg.database)
	}
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return in.done(map[string]string{"status": "migrated"}, "database is up to date")
}
