package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"
)

// command is one row of rotor's command table (see commands in run.go). The
// row drives the parsing of its command line, the dispatch to run, and its
// lines in the usage text.
type command struct {
	group    string    // "users" for `rotor users add`; "" for a top-level command such as serve
	name     string    // "add"
	args     []string  // names of the positional arguments, e.g. NAME; run gets exactly these
	synopsis string    // the flags the usage text shows after the arguments
	summary  string    // what the command does, for the usage text; may be empty
	flags    []flagger // the flags it takes, each falling back to ROTOR_<NAME>
	run      func(context.Context, *invocation) error
}

// flagger registers some of config's flags on a flag set.
type flagger func(*config, *flag.FlagSet)

// path is the command's words after "rotor": "users add", "serve".
func (c *command) path() string {
	return strings.TrimSpace(c.group + " " + c.name)
}

// line is the command as the usage text shows it, without the summary.
func (c *command) line() string {
	words := []string{"rotor", c.path()}
	words = append(words, c.args...)
	if c.synopsis != "" {
		words = append(words, c.synopsis)
	}
	return strings.Join(words, " ")
}

// invocation is one parsed command line: its settings, its positional
// arguments (as many as the command's args), and the streams it talks to.
type invocation struct {
	cfg    *config
	args   []string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// parse parses args against the command's flags and environment fallbacks.
// It returns flag.ErrHelp for -h, and a usage error for anything else wrong
// on the command line.
func (c *command) parse(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) (*invocation, error) {
	in := &invocation{cfg: &config{}, stdin: stdin, stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("rotor "+c.path(), flag.ContinueOnError)
	for _, f := range c.flags {
		f(in.cfg, fs)
	}
	fs.Usage = func() { c.help(fs) }
	var err error
	if in.args, err = parseFlags(fs, args, getenv, stderr); err != nil {
		return nil, err
	}
	if len(in.args) != len(c.args) {
		return nil, usagef("usage: %s", c.line())
	}
	return in, nil
}

// help is what `rotor COMMAND -h` prints: the command line, what it does,
// and its flags.
func (c *command) help(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprintf(w, "Usage: %s\n", c.line())
	if c.summary != "" {
		fmt.Fprintf(w, "\n%s.\n", strings.ToUpper(c.summary[:1])+c.summary[1:])
	}
	var example string
	fs.VisitAll(func(f *flag.Flag) {
		if example == "" {
			example = fmt.Sprintf("--%s reads %s", f.Name, envName(f.Name))
		}
	})
	fmt.Fprintf(w, "\nFlags (each falls back to an environment variable: %s):\n", example)
	fs.PrintDefaults()
}

// warnLogger is the log of the administrative commands: warnings only, on
// stderr, so that stdout stays the command's result.
func (in *invocation) warnLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(in.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// withStore adapts a command that works on the store: it opens the store
// named by the settings (see openBackend) and closes it after run.
func withStore(mode openMode, run func(context.Context, *invocation, *backend) error) func(context.Context, *invocation) error {
	return func(ctx context.Context, in *invocation) error {
		be, err := openBackend(ctx, in.cfg, mode, in.warnLogger())
		if err != nil {
			return err
		}
		defer be.Close()
		return run(ctx, in, be)
	}
}

func (in *invocation) printJSON(v any) error {
	enc := json.NewEncoder(in.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// done prints the result of a command that changed something: v with
// --json, else the sentence format makes.
func (in *invocation) done(v any, format string, args ...any) error {
	if in.cfg.json {
		return in.printJSON(v)
	}
	fmt.Fprintf(in.stdout, format+"\n", args...)
	return nil
}

// printList prints items as a JSON array (each converted by asJSON, which
// leaves out anything secret) with --json, or as a table with a header and
// one row each.
func printList[T, J any](in *invocation, items []T, asJSON func(T) J, header string, row func(T) string) error {
	if in.cfg.json {
		out := make([]J, len(items))
		for i, it := range items {
			out[i] = asJSON(it)
		}
		return in.printJSON(out)
	}
	tw := tabwriter.NewWriter(in.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, it := range items {
		fmt.Fprintln(tw, row(it))
	}
	return tw.Flush()
}

// now is the time a command records. The stores keep microseconds, so the
// record a command prints equals the one it stored.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// timestamp formats t for a table, "-" when unset.
func timestamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
