package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// run reads `go test -json` on stdin and returns the exit status: 0 if every
// package passed and, under -ci, nothing skipped but the allowed helpers.
func run(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("testreport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ci := fs.Bool("ci", getenv("CI") == "true", "fail if any test skips (default: CI=true)")
	allow := fs.String("allow-skip", "", "comma-separated names of tests that skip by design (helper processes), allowed under -ci")
	rawPath := fs.String("o", "", "also write the JSON stream to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	opts := options{failOnSkip: *ci}
	for name := range strings.SplitSeq(*allow, ",") {
		if name = strings.TrimSpace(name); name != "" {
			opts.allowSkip = append(opts.allowSkip, name)
		}
	}
	var raw io.Writer
	if *rawPath != "" {
		f, err := os.Create(*rawPath)
		if err != nil {
			fmt.Fprintln(stderr, "testreport:", err)
			return 2
		}
		defer f.Close()
		raw = f
	}
	r := newReport(stdout, opts)
	if err := r.read(stdin, raw); err != nil {
		fmt.Fprintln(stderr, "testreport: reading the test stream:", err)
		return 2
	}
	if !r.finish() {
		return 1
	}
	return 0
}
