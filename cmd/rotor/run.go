package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

const usage = `Rotor is a key-rotating identity provider.

Usage:
  rotor serve [flags]                       run the server
  rotor migrate [flags]                     apply database migrations
  rotor users add NAME                      create a user (password on stdin)
  rotor users list
  rotor users disable NAME                  disable a user and revoke their refresh tokens
  rotor users enable NAME
  rotor users set-password NAME             change a password (on stdin); revokes refresh tokens
  rotor clients add ID --grant-types a,b --scopes "x y" --audience a1,a2 [--public] [--token-alg RS256|EdDSA]
  rotor clients list
  rotor clients delete ID
  rotor keys list
  rotor keys rotate [--alg RS256|EdDSA] [--force]
  rotor keys revoke KID
  rotor keys rewrap                         re-encrypt private keys under the first key-encryption key
  rotor keys new-kek                        print a new key-encryption key

Every flag falls back to an environment variable: --jwks-max-age reads
ROTOR_JWKS_MAX_AGE. Admin commands take --json for machine-readable output.
Run "rotor COMMAND -h" for a command's flags.
`

// run is the whole program; main only wires it to the process.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usagef("no command given")
	}
	cmd, rest := args[0], args[1:]
	a := &admin{ctx: ctx, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	var err error
	switch cmd {
	case "serve":
		err = cmdServe(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		err = a.migrate(rest)
	case "users":
		err = a.users(rest)
	case "clients":
		err = a.clients(rest)
	case "keys":
		err = a.keys(rest)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return usagef("unknown command %q", cmd)
	}
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}
