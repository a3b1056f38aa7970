package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/internal/seed"
)

// Bounds of one seeding run: enough for the scale profile's largest size
// with room to spare, not enough to fill a disk by a typo.
const (
	maxSeedUsers    = 5_000_000
	maxSeedClients  = 100_000
	maxSeedFamilies = 10_000_000
	maxSeedDepth    = 3000
	maxSeedTokens   = 50_000_000
)

// runSeed is "rotor-load seed": it fills a migrated Postgres database or an
// embedded store's data directory with seeded users, clients and refresh
// families (package seed), for scale measurements.
func runSeed(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var (
		spec           seed.Spec
		database, dir  string
		expired, revok float64
	)
	fs := flag.NewFlagSet("rotor-load seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&database, "database", getenv("ROTOR_LOAD_DATABASE"), "Postgres URL of a migrated database that serves no traffic")
	fs.StringVar(&dir, "data-dir", "", "embedded store directory (instead of --database); no server may run on it")
	fs.IntVar(&spec.Users, "users", 1000, "users (password: "+fmt.Sprintf("%q", seed.Password)+")")
	fs.IntVar(&spec.Clients, "clients", 10, "confidential clients (secret: "+fmt.Sprintf("%q", seed.ClientSecret)+")")
	fs.IntVar(&spec.Families, "families", 10_000, "refresh-token families, spread over users and clients")
	fs.IntVar(&spec.Depth, "depth", seed.DefaultDepth, "mean tokens per family (a family refreshed every 15 minutes for 30 days holds ~2,900)")
	fs.Float64Var(&expired, "expired", 0.2, "share of families already expired (what a purge deletes)")
	fs.Float64Var(&revok, "revoked", 0.05, "share of families revoked")
	fs.Uint64Var(&spec.Seed, "seed", 1, "random seed: the same flags make the same rows")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	spec.Expired, spec.Revoked = expired, revok
	if (database == "") == (dir == "") {
		return errors.New("seed: give exactly one of --database and --data-dir")
	}
	if spec.Users > maxSeedUsers || spec.Clients > maxSeedClients || spec.Families > maxSeedFamilies ||
		spec.Depth > maxSeedDepth || spec.Families*max(spec.Depth, 1) > maxSeedTokens {
		return fmt.Errorf("seed: at most %d users, %d clients, %d families, depth %d and %d tokens",
			maxSeedUsers, maxSeedClients, maxSeedFamilies, maxSeedDepth, maxSeedTokens)
	}
	st, err := seedStore(ctx, database, dir, spec)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "seeded", st)
	return nil
}

// seedStore seeds one store; users get seed.Password hashed with Rotor's
// default argon2id parameters, as a server would store it.
func seedStore(ctx context.Context, database, dir string, spec seed.Spec) (seed.Stats, error) {
	hash, err := idp.HashPassword(seed.Password, idp.DefaultArgon2)
	if err != nil {
		return seed.Stats{}, err
	}
	if database != "" {
		return seed.Postgres(ctx, database, spec, hash)
	}
	return seed.SQLite(ctx, dir, spec, hash)
}
