package dpop

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies: resource imports this package, so it may use only the
// standard library and Rotor's own standard-library JOSE parser.
func TestDependencies(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("go command not found")
		}
		t.Skip("go command not found")
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != "github.com/rotor-idp/rotor/internal/dpop" && dep != "github.com/rotor-idp/rotor/internal/jws" {
			t.Errorf("internal/dpop depends on %s", dep)
		}
	}
}
