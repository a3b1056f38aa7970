package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ev renders one event line the way go test -json does.
func ev(action, pkg, test, output string) string {
	var b strings.Builder
	b.WriteString(`{"Action":"` + action + `","Package":"` + pkg + `"`)
	if test != "" {
		b.WriteString(`,"Test":"` + test + `"`)
	}
	if output != "" {
		b.WriteString(`,"Output":` + strings.ReplaceAll(strings.ReplaceAll(quote(output), "\n", `\n`), "\t", `\t`))
	}
	b.WriteString("}\n")
	return b.String()
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

func stream(lines ...string) string { return strings.Join(lines, "") }

func TestReport(t *testing.T) {
	passing := stream(
		ev("start", "p", "", ""),
		ev("run", "p", "TestA", ""),
		ev("output", "p", "TestA", "=== RUN   TestA\n"),
		ev("output", "p", "TestA", "    a_test.go:9: noise\n"),
		ev("pass", "p", "TestA", ""),
		ev("pass", "p", "", ""),
	)
	skipping := stream(
		ev("start", "p", "", ""),
		ev("run", "p", "TestDB", ""),
		ev("output", "p", "TestDB", "=== RUN   TestDB\n"),
		ev("output", "p", "TestDB", "    db_test.go:3: POSTGRES TESTS SKIPPED: no initdb\n"),
		ev("output", "p", "TestDB", "--- SKIP: TestDB (0.00s)\n"),
		ev("skip", "p", "TestDB", ""),
		ev("pass", "p", "", ""),
	)
	helper := stream(
		ev("start", "p", "", ""),
		ev("run", "p", "TestHelperProcess", ""),
		ev("skip", "p", "TestHelperProcess", ""),
		ev("pass", "p", "", ""),
	)
	tests := []struct {
		name     string
		in       string
		opts     options
		wantOK   bool
		want     []string // lines the output must have
		dontWant []string
	}{
		{"passing", passing, options{failOnSkip: true}, true,
			[]string{"ok  \tp\t", "tests: 1 passed, 0 failed, 0 skipped", "PASS"}, []string{"noise", "=== RUN"}},
		{"failing test shows its output", stream(
			ev("start", "p", "", ""),
			ev("run", "p", "TestA", ""),
			ev("output", "p", "TestA", "=== RUN   TestA\n"),
			ev("output", "p", "TestA", "    a_test.go:9: want 1, got 2\n"),
			ev("output", "p", "TestA", "--- FAIL: TestA (0.00s)\n"),
			ev("fail", "p", "TestA", ""),
			ev("output", "p", "", "FAIL\n"),
			ev("fail", "p", "", ""),
		), options{}, false,
			[]string{"    a_test.go:9: want 1, got 2", "--- FAIL: TestA", "FAIL\tp\t", "tests: 0 passed, 1 failed", "FAIL p TestA"}, []string{"=== RUN", "PASS\n"}},
		{"skip under CI fails with the reason", skipping, options{failOnSkip: true}, false,
			[]string{"tests: 0 passed, 0 failed, 1 skipped", "SKIP p TestDB: db_test.go:3: POSTGRES TESTS SKIPPED: no initdb", "FAIL: 1 tests skipped"}, nil},
		{"skip outside CI is reported", skipping, options{}, true,
			[]string{"1 skipped", "SKIP p TestDB: db_test.go:3: POSTGRES TESTS SKIPPED"}, []string{"FAIL"}},
		{"allowed helper", helper, options{failOnSkip: true, allowSkip: []string{"TestHelperProcess"}}, true,
			[]string{"0 skipped (and 1 skips by design: TestHelperProcess)", "PASS"}, []string{"SKIP p"}},
		{"helper not named", helper, options{failOnSkip: true, allowSkip: []string{"TestOther"}}, false,
			[]string{"SKIP p TestHelperProcess"}, nil},
		{"allowed name covers subtests only under it", stream(
			ev("start", "p", "", ""),
			ev("skip", "p", "TestHelperProcessX", ""),
			ev("skip", "p", "TestHelperProcess/sub", ""),
			ev("pass", "p", "", ""),
		), options{failOnSkip: true, allowSkip: []string{"TestHelperProcess"}}, false,
			[]string{"SKIP p TestHelperProcessX", "1 skipped (and 1 skips by design"}, nil},
		{"panic: the unfinished test is shown and counted", stream(
			ev("start", "p", "", ""),
			ev("run", "p", "TestA", ""),
			ev("output", "p", "TestA", "panic: boom\n"),
			ev("output", "p", "", "FAIL\tp\t0.1s\n"),
			ev("fail", "p", "", ""),
		), options{}, false,
			[]string{"panic: boom", "FAIL p TestA (did not finish)"}, nil},
		{"cut short", stream(ev("start", "p", "", ""), ev("run", "p", "TestA", "")), options{}, false,
			[]string{"no result for p"}, nil},
		{"nothing ran", "go: cannot find main module\n", options{}, false,
			[]string{"go: cannot find main module", "no test results"}, nil},
		{"build failure", stream(
			`{"ImportPath":"p [p.test]","Action":"build-output","Output":"# p\n./a.go:3:1: syntax error\n"}`+"\n",
			`{"ImportPath":"p [p.test]","Action":"build-fail"}`+"\n",
			ev("start", "p", "", ""),
			`{"Action":"fail","Package":"p","FailedBuild":"p [p.test]"}`+"\n",
		), options{}, false,
			[]string{"BUILD FAILED p [p.test]", "./a.go:3:1: syntax error", "FAIL\tp [build failed: p [p.test]]"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			r := newReport(&out, tt.opts)
			if err := r.read(strings.NewReader(tt.in), nil); err != nil {
				t.Fatal(err)
			}
			ok := r.finish()
			if ok != tt.wantOK {
				t.Errorf("finish() = %v, want %v", ok, tt.wantOK)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q", w)
				}
			}
			for _, w := range tt.dontWant {
				if strings.Contains(out.String(), w) {
					t.Errorf("output has %q", w)
				}
			}
			if t.Failed() {
				t.Logf("output:\n%s", out.String())
			}
		})
	}
}

// TestRealStream runs go test -json on the fixture package, so the report
// is checked against what the go command really prints.
func TestRealStream(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("go command not found")
	}
	tests := []struct {
		mode    string
		ci      bool
		wantOK  bool
		want    []string
		wantNot []string
	}{
		{"pass", true, true, []string{"tests: 5 passed, 0 failed, 0 skipped (and 1 skips by design: TestHelperProcess)", "PASS"}, []string{"quiet when passing"}},
		{"skip", true, false, []string{"1 skipped", "TestMaybeSkips: fixture_test.go:22: POSTGRES TESTS SKIPPED: no initdb"}, nil},
		{"skip", false, true, []string{"1 skipped"}, nil},
		{"fail", true, false, []string{"context line", "want 1, got 2", "--- FAIL: TestMaybeFails/inner", "FAIL ", "TestMaybeFails/inner"}, []string{"quiet when passing", "=== RUN"}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			cmd := exec.Command(goBin, "test", "-count=1", "-json", "./testdata/fixture")
			cmd.Env = append(os.Environ(), "FIXTURE_MODE="+tt.mode)
			stream, _ := cmd.Output() // a failing fixture exits 1
			var out bytes.Buffer
			raw := filepath.Join(t.TempDir(), "raw.json")
			args := []string{"-allow-skip", "TestHelperProcess", "-o", raw}
			if tt.ci {
				args = append(args, "-ci")
			} else {
				args = append(args, "-ci=false")
			}
			code := run(args, func(string) string { return "" }, bytes.NewReader(stream), &out, &out)
			if (code == 0) != tt.wantOK {
				t.Errorf("exit %d, want ok=%v", code, tt.wantOK)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q", w)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(out.String(), w) {
					t.Errorf("output has %q", w)
				}
			}
			if b, err := os.ReadFile(raw); err != nil || !bytes.Equal(b, stream) {
				t.Errorf("-o file differs from the stream (%v)", err)
			}
			if t.Failed() {
				t.Logf("output:\n%s", out.String())
			}
		})
	}
}
