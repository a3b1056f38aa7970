package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinariesDoNotImportTesting keeps test-only code out of what Rotor
// ships: importing testing registers its flags in every binary, and a test
// helper that leaks into one (as pgtest once did into rotor-load) drags its
// assumptions along. Each main package under cmd/, and pgcluster, which
// binaries use to start Postgres, must not depend on testing or on the
// packages that exist for tests.
func TestBinariesDoNotImportTesting(t *testing.T) {
	const module = "github.com/rotor-idp/rotor/"
	mains := goList(t, "-f", "{{if eq .Name \"main\"}}{{.ImportPath}}{{end}}", module+"cmd/...")
	if len(mains) < 3 {
		t.Fatalf("go list found only %v under cmd/", mains)
	}
	forbidden := func(dep string) bool {
		switch {
		case dep == "testing", strings.HasPrefix(dep, "testing/"):
			return true
		case strings.HasPrefix(dep, module+"internal/"):
			name := strings.TrimPrefix(dep, module+"internal/")
			return strings.HasSuffix(name, "test") // pgtest, proctest, rotortest, storetest
		}
		return false
	}
	for _, pkg := range append(mains, module+"internal/pgcluster") {
		t.Run(strings.TrimPrefix(pkg, module), func(t *testing.T) {
			for _, dep := range goList(t, "-deps", pkg) {
				if forbidden(dep) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		})
	}
}

// goList runs go list with args and returns its non-empty output lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok {
			msg += ": " + string(ee.Stderr)
		}
		t.Fatalf("go list %s: %s", strings.Join(args, " "), msg)
	}
	return strings.Fields(string(out))
}
