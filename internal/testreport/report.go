package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json's TestEvent) or of
// the build events it interleaves (cmd/go's BuildEvent).
type event struct {
	Action      string
	Package     string
	Test        string
	Elapsed     float64
	Output      string
	FailedBuild string
	ImportPath  string // build events
}

// options say what a run must look like to pass.
type options struct {
	// failOnSkip makes any skipped test fail the run, except those named in
	// allowSkip (CI=true: nothing skips there).
	failOnSkip bool
	// allowSkip names tests that skip by design, such as the helper
	// processes other tests start (TestHelperProcess). A name matches the
	// test and its subtests in every package.
	allowSkip []string
}

// skip is one skipped test and why, as it said.
type skip struct{ pkg, test, reason string }

// report reads the stream and keeps what the summary needs; it prints as it
// goes so that a long run shows progress.
type report struct {
	out  io.Writer
	opts options

	pkgs     map[string]*pkgState
	builds   map[string]*strings.Builder // build output by import path
	order    []string                    // packages in the order they started
	passed   int
	failed   []string // "pkg TestName"
	skipped  []skip
	allowed  int
	pkgFails int
	buildBad int
}

type pkgState struct {
	done   bool
	output strings.Builder             // package-level output
	tests  map[string]*strings.Builder // output of tests without a result yet
}

func newReport(out io.Writer, opts options) *report {
	return &report{out: out, opts: opts, pkgs: map[string]*pkgState{}, builds: map[string]*strings.Builder{}}
}

// read consumes the whole stream, copying it to raw if raw is not nil.
// Lines that are not JSON events (go's own messages on stderr, merged in)
// are printed as they are.
func (r *report) read(in io.Reader, raw io.Writer) error {
	br := bufio.NewReaderSize(in, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			if raw != nil {
				io.WriteString(raw, line)
			}
			r.line(line)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (r *report) line(line string) {
	var e event
	if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &e) != nil || e.Action == "" {
		io.WriteString(r.out, line)
		return
	}
	switch e.Action {
	case "build-output":
		b := r.builds[e.ImportPath]
		if b == nil {
			b = &strings.Builder{}
			r.builds[e.ImportPath] = b
		}
		b.WriteString(e.Output)
	case "build-fail":
		r.buildBad++
		fmt.Fprintf(r.out, "BUILD FAILED %s\n", e.ImportPath)
		if b := r.builds[e.ImportPath]; b != nil {
			io.WriteString(r.out, b.String())
		}
	default:
		r.testEvent(e)
	}
}

func (r *report) pkg(name string) *pkgState {
	p := r.pkgs[name]
	if p == nil {
		p = &pkgState{tests: map[string]*strings.Builder{}}
		r.pkgs[name] = p
		r.order = append(r.order, name)
	}
	return p
}

func (r *report) testEvent(e event) {
	p := r.pkg(e.Package)
	if e.Test == "" {
		r.packageEvent(e, p)
		return
	}
	switch e.Action {
	case "run":
		p.tests[e.Test] = &strings.Builder{}
	case "output":
		b := p.tests[e.Test]
		if b == nil {
			b = &strings.Builder{}
			p.tests[e.Test] = b
		}
		b.WriteString(e.Output)
	case "pass":
		r.passed++
		delete(p.tests, e.Test)
	case "fail":
		r.failed = append(r.failed, e.Package+" "+e.Test)
		r.printTest(p.tests[e.Test])
		delete(p.tests, e.Test)
	case "skip":
		reason := skipReason(p.tests[e.Test])
		delete(p.tests, e.Test)
		if r.allowedSkip(e.Test) {
			r.allowed++
			return
		}
		r.skipped = append(r.skipped, skip{e.Package, e.Test, reason})
	}
}

func (r *report) packageEvent(e event, p *pkgState) {
	switch e.Action {
	case "output":
		p.output.WriteString(e.Output)
	case "pass":
		p.done = true
		fmt.Fprintf(r.out, "ok  \t%s\t%.3fs\n", e.Package, e.Elapsed)
	case "skip": // no test files
		p.done = true
	case "fail":
		p.done = true
		r.pkgFails++
		// Tests the package left unfinished (a panic, a timeout) and
		// whatever the package printed outside its tests.
		names := make([]string, 0, len(p.tests))
		for name := range p.tests {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			r.failed = append(r.failed, e.Package+" "+name+" (did not finish)")
			r.printTest(p.tests[name])
		}
		clear(p.tests)
		io.WriteString(r.out, p.output.String())
		if e.FailedBuild != "" {
			fmt.Fprintf(r.out, "FAIL\t%s [build failed: %s]\n", e.Package, e.FailedBuild)
		} else {
			fmt.Fprintf(r.out, "FAIL\t%s\t%.3fs\n", e.Package, e.Elapsed)
		}
	}
}

// printTest prints a failed test's output without the framework's
// progress lines, as go test does without -v.
func (r *report) printTest(b *strings.Builder) {
	if b == nil {
		return
	}
	for line := range strings.Lines(b.String()) {
		if isProgress(line) {
			continue
		}
		io.WriteString(r.out, line)
	}
}

func isProgress(line string) bool {
	for _, p := range []string{"=== RUN", "=== PAUSE", "=== CONT", "=== NAME"} {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return false
}

// skipReason is what a skipped test printed, minus the framework's lines.
func skipReason(b *strings.Builder) string {
	if b == nil {
		return ""
	}
	var lines []string
	for line := range strings.Lines(b.String()) {
		t := strings.TrimSpace(line)
		if t == "" || isProgress(line) || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		lines = append(lines, t)
	}
	return strings.Join(lines, " | ")
}

func (r *report) allowedSkip(test string) bool {
	top, _, _ := strings.Cut(test, "/")
	return slices.Contains(r.opts.allowSkip, top)
}

// finish prints the summary and reports whether the run passed.
func (r *report) finish() bool {
	ok := true
	var unfinished []string
	for _, name := range r.order {
		if !r.pkgs[name].done {
			unfinished = append(unfinished, name)
		}
	}
	fmt.Fprintf(r.out, "\ntests: %d passed, %d failed, %d skipped", r.passed, len(r.failed), len(r.skipped))
	if r.allowed > 0 {
		fmt.Fprintf(r.out, " (and %d skips by design: %s)", r.allowed, strings.Join(r.opts.allowSkip, ", "))
	}
	fmt.Fprintf(r.out, "; %d packages\n", len(r.order))
	for _, s := range r.skipped {
		fmt.Fprintf(r.out, "SKIP %s %s: %s\n", s.pkg, s.test, s.reason)
	}
	for _, f := range r.failed {
		fmt.Fprintf(r.out, "FAIL %s\n", f)
	}
	switch {
	case len(r.order) == 0:
		fmt.Fprintln(r.out, "FAIL: no test results (did go test run?)")
		ok = false
	case len(unfinished) > 0:
		fmt.Fprintf(r.out, "FAIL: no result for %s (the run was cut short)\n", strings.Join(unfinished, ", "))
		ok = false
	}
	if len(r.failed) > 0 || r.pkgFails > 0 || r.buildBad > 0 {
		ok = false
	}
	if len(r.skipped) > 0 && r.opts.failOnSkip {
		fmt.Fprintf(r.out, "FAIL: %d tests skipped; under CI=true nothing may skip\n", len(r.skipped))
		ok = false
	}
	if ok {
		fmt.Fprintln(r.out, "PASS")
	}
	return ok
}
