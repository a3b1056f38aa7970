package sqlite_test

import (
	"testing"

	"github.com/rotor-idp/rotor/internal/storetest"
	"github.com/rotor-idp/rotor/sql/sqlite"
)

// BenchmarkSignIn is the store work of one sign-in with a session, against
// one refresh rotation in the same run (storetest.BenchSignIn).
func BenchmarkSignIn(b *testing.B) {
	s, err := sqlite.Open(b.Context(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	storetest.BenchSignIn(b, stores(s))
}
