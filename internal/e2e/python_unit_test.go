package e2e

import (
	"os/exec"
	"testing"
)

// TestPythonUnitTests runs the unit tests of examples/python (unittest,
// under Debian's python3): among them, rotor_auth's JWKS refetch floor for
// unknown kids under a concurrent burst, the last good key set while the
// JWKS endpoint fails, and header members of other types than string
// refused as bad tokens.
func TestPythonUnitTests(t *testing.T) {
	requireEnv(t, pythonReady(), pythonPackages)
	cmd := exec.Command(debianPython, "-m", "unittest", "discover", "-s", repoPath(t, "examples/python"), "-p", "test_*.py", "-v")
	cmd.Env = []string{"PYTHONDONTWRITEBYTECODE=1", "PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3 -m unittest: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
