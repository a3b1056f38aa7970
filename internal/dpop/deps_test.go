package dpop

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies: resource imports this package, so it may use only the
// standard library and jwx.
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
		if dep != "github.com/rotor-idp/rotor/internal/dpop" && !strings.HasPrefix(dep, "github.com/lestrrat-go/") &&
			!strings.HasPrefix(dep, "github.com/valyala/fastjson") && !strings.HasPrefix(dep, "github.com/segmentio/asm") &&
			!strings.HasPrefix(dep, "github.com/goccy/go-json") && !strings.HasPrefix(dep, "github.com/decred/") && !strings.HasPrefix(dep, "golang.org/x/") {
			t.Errorf("internal/dpop depends on %s", dep)
		}
	}
}
