package resource

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestImportBoundary enforces DESIGN.md: resource (and resourcetest) import
// only the standard library, jwx, internal/jws (the JWS rules shared with
// the identity provider, itself standard library only), internal/httpcache
// (HTTP freshness, standard library only) and internal/dpop (the DPoP proof
// rules shared with it, itself standard library and jwx), so a resource server
// never pulls in a database driver or any other part of the identity
// provider.
func TestImportBoundary(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("go command not found")
		}
		t.Skip("go command not found")
	}
	for _, pkg := range []string{".", "./resourcetest"} {
		cmd := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		std := exec.Command(goBin, "list", "-deps", "-f", "{{if .Standard}}{{.ImportPath}}{{end}}", pkg)
		stdOut, err := std.Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(stdOut)) {
			if dep == "database/sql" || strings.HasPrefix(dep, "database/sql/") {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
		for _, dep := range strings.Fields(string(out)) {
			if !allowedDep(dep) {
				t.Errorf("%s depends on %s: resource may import only the standard library, jwx, internal/jws, internal/httpcache and internal/dpop", pkg, dep)
			}
		}
	}
}

func allowedDep(path string) bool {
	const self = "github.com/rotor-idp/rotor/resource"
	if path == self || strings.HasPrefix(path, self+"/") || path == "github.com/rotor-idp/rotor/internal/jws" || path == "github.com/rotor-idp/rotor/internal/httpcache" ||
		path == "github.com/rotor-idp/rotor/internal/dpop" {
		return true
	}
	// jwx and the modules jwx itself needs.
	for _, p := range []string{
		"github.com/lestrrat-go/",
		"github.com/segmentio/asm",
		"github.com/goccy/go-json",
		"github.com/valyala/fastjson",
		"github.com/decred/dcrd/dcrec/secp256k1",
		"golang.org/x/crypto/",
		"golang.org/x/sys/",
	} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

func TestAllowedDep(t *testing.T) {
	for path, want := range map[string]bool{
		"github.com/rotor-idp/rotor/resource":              true,
		"github.com/rotor-idp/rotor/resource/resourcetest": true,
		"github.com/lestrrat-go/jwx/v3/jwk":                true,
		"github.com/rotor-idp/rotor/keys":                  false,
		"github.com/rotor-idp/rotor/idp":                   false,
		"github.com/rotor-idp/rotor/internal/pgtest":       false,
		"github.com/rotor-idp/rotor/internal/jws":          true,
		"github.com/rotor-idp/rotor/internal/jws/x":        false,
		"github.com/rotor-idp/rotor/internal/jwstest":      false,
		"github.com/rotor-idp/rotor/resourcefoo":           false,
		"github.com/jackc/pgx/v5":                          false,
		"modernc.org/sqlite":                               false,
	} {
		if got := allowedDep(path); got != want {
			t.Errorf("allowedDep(%q) = %v, want %v", path, got, want)
		}
	}
}
