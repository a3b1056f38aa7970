package sqlite_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/sql/sqlite"
)

// benchStore is a warm store with one client and one family.
func benchStore(b *testing.B) (*sqlite.Store, []byte) {
	s, err := sqlite.Open(b.Context(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.CreateClient(b.Context(), idp.Client{ID: "c1", SecretHash: hashOf("c1"), CreatedAt: testTime}); err != nil {
		b.Fatal(err)
	}
	first := hashOf("first")
	f := idp.Family{ID: "f1", ClientID: "c1", Subject: "u1", Scope: "openid", AuthTime: testTime, CreatedAt: testTime, ExpiresAt: testTime.Add(time.Hour)}
	if err := s.CreateFamily(b.Context(), f, idp.RefreshToken{Hash: first, IssuedAt: testTime}); err != nil {
		b.Fatal(err)
	}
	return s, first
}

// BenchmarkUseRefresh rotates one family's token again and again, as the
// token endpoint does: read the state, spend the token, issue the next.
func BenchmarkUseRefresh(b *testing.B) {
	s, cur := benchStore(b)
	ctx := b.Context()
	i := 0
	for b.Loop() {
		next := hashOf(fmt.Sprint("next ", i))
		err := s.UseRefresh(ctx, cur, func(st idp.RefreshState) (idp.RefreshUpdate, error) {
			return idp.RefreshUpdate{SpendToken: testTime, Issue: &idp.RefreshToken{Hash: next, Parent: st.Token.Hash, IssuedAt: testTime}}, nil
		})
		if err != nil {
			b.Fatal(err)
		}
		cur = next
		i++
	}
}

// BenchmarkUseRefreshParallel is UseRefresh from many goroutines, each on
// its own family.
func BenchmarkUseRefreshParallel(b *testing.B) {
	s, _ := benchStore(b)
	ctx := b.Context()
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		id := fmt.Sprint("p", n.Add(1))
		cur := hashOf(id)
		f := idp.Family{ID: id, ClientID: "c1", Subject: "u1", AuthTime: testTime, CreatedAt: testTime, ExpiresAt: testTime.Add(time.Hour)}
		if err := s.CreateFamily(ctx, f, idp.RefreshToken{Hash: cur, IssuedAt: testTime}); err != nil {
			b.Error(err)
			return
		}
		for i := 0; pb.Next(); i++ {
			next := hashOf(fmt.Sprint(id, i))
			err := s.UseRefresh(ctx, cur, func(st idp.RefreshState) (idp.RefreshUpdate, error) {
				return idp.RefreshUpdate{SpendToken: testTime, Issue: &idp.RefreshToken{Hash: next, Parent: st.Token.Hash, IssuedAt: testTime}}, nil
			})
			if err != nil {
				b.Error(err)
				return
			}
			cur = next
		}
	})
}

func BenchmarkLookupRefresh(b *testing.B) {
	s, first := benchStore(b)
	for b.Loop() {
		if _, err := s.LookupRefresh(b.Context(), first); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClientByID(b *testing.B) {
	s, _ := benchStore(b)
	for b.Loop() {
		if _, err := s.ClientByID(b.Context(), "c1"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	for b.Loop() {
		s, err := sqlite.Open(b.Context(), dir)
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
