package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// commands is everything rotor does, in the order the usage text lists it.
// Each group's table lives in the group's file.
var commands = slices.Concat([]command{serveCommand, migrateCommand}, usersCommands, clientsCommands, keysCommands)

const (
	usageHead = "Rotor is a key-rotating identity provider.\n\nUsage:\n"
	usageTail = `
Every flag falls back to an environment variable: --jwks-max-age reads
ROTOR_JWKS_MAX_AGE. Admin commands take --json for machine-readable output.
Run "rotor COMMAND -h" for a command's flags.
`
)

// usage is the text `rotor help` prints: one line per command.
func usage() string {
	var b strings.Builder
	b.WriteString(usageHead)
	for _, c := range commands {
		if c.summary == "" {
			fmt.Fprintf(&b, "  %s\n", c.line())
		} else {
			fmt.Fprintf(&b, "  %-41s %s\n", c.line(), c.summary)
		}
	}
	b.WriteString(usageTail)
	return b.String()
}

// run is the whole program; main only wires it to the process.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return usagef("no command given")
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage())
		return nil
	}
	cmd, rest, err := find(args)
	if err != nil {
		return err
	}
	if cmd == nil {
		fmt.Fprint(stderr, usage())
		return usagef("unknown command %q", args[0])
	}
	in, err := cmd.parse(rest, getenv, stdin, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	return cmd.run(ctx, in)
}

// find looks args up in the command table and returns the command and the
// arguments after its name. It returns a nil command for an unknown
// top-level word, and a usage error for a group without a known subcommand.
func find(args []string) (*command, []string, error) {
	var group []string
	for i := range commands {
		c := &commands[i]
		switch {
		case c.group == "" && c.name == args[0]:
			return c, args[1:], nil
		case c.group == args[0]:
			if len(args) > 1 && c.name == args[1] {
				return c, args[2:], nil
			}
			group = append(group, c.name)
		}
	}
	switch {
	case group == nil:
		return nil, nil, nil
	case len(args) == 1:
		return nil, nil, usagef("usage: rotor %s %s …", args[0], strings.Join(group, "|"))
	}
	return nil, nil, usagef("unknown %s command %q", args[0], args[1])
}
