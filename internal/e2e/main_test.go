package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/internal/proctest"
)

func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	proctest.Cleanup()
	os.Exit(code)
}

// freePort returns a loopback port that was free a moment ago, for
// third-party servers that cannot report the port they bound.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// repoPath returns a path inside the repository.
func repoPath(t *testing.T, rel string) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), rel)
}

// requireEnv skips a test whose tools are missing, loudly, except under
// CI=true, where missing tools are a failure: CI installs them.
func requireEnv(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	msg := "E2E TEST SKIPPED: " + what + " (.ci/run installs it)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
