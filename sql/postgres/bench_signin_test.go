package postgres_test

import (
	"testing"

	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/internal/storetest"
	"github.com/rotor-idp/rotor/sql/postgres"
)

// BenchmarkSignIn is the store work of one sign-in with a session, against
// one refresh rotation in the same run (storetest.BenchSignIn).
func BenchmarkSignIn(b *testing.B) {
	s, err := postgres.Open(b.Context(), pgtest.NewDatabase(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	storetest.BenchSignIn(b, stores(s))
}
