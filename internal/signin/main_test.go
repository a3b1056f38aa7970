package signin

import (
	"os"
	"testing"

	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/internal/proctest"
)

func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	proctest.Cleanup()
	os.Exit(code)
}
