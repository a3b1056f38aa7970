package jws

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestStandardLibraryOnly: resource imports this package, and a resource
// server must pull in nothing but the standard library and jwx.
func TestStandardLibraryOnly(t *testing.T) {
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
		if dep != "github.com/rotor-idp/rotor/internal/jws" {
			t.Errorf("internal/jws depends on %s; it may import only the standard library", dep)
		}
	}
}
