package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// BenchSignIn measures the store work of one browser sign-in by a user who
// already has a session, the way the authorization and token endpoints will
// do it: look up the session, store a code, redeem it, and create a refresh
// family from it (four calls, three of them writes). The baseline is one
// refresh-token rotation (UseRefresh), measured in the same run, interleaved
// in chunks so that load on the machine hits both alike. It reports
// ns/signin, ns/refresh and their ratio, signin/refresh; s must be empty.
func BenchSignIn(b *testing.B, s Stores) {
	ctx := b.Context()
	if err := s.Clients.CreateClient(ctx, idp.Client{ID: "web", SecretHash: hashOf("web"), CreatedAt: base}); err != nil {
		b.Fatal(err)
	}
	if err := s.Users.CreateUser(ctx, idp.User{ID: "u1", Name: "alice", PasswordHash: "h", CreatedAt: base, UpdatedAt: base}); err != nil {
		b.Fatal(err)
	}
	se := session("s1", "u1")
	if err := s.Sessions.CreateSession(ctx, se); err != nil {
		b.Fatal(err)
	}
	f, tok := family("baseline", "web", "u1")
	if err := s.Refresh.CreateFamily(ctx, f, tok); err != nil {
		b.Fatal(err)
	}
	cur := tok.Hash

	signIn := func(i int) {
		if _, err := s.Sessions.SessionByHash(ctx, se.Hash, base); err != nil {
			b.Fatal(err)
		}
		c := code(fmt.Sprint("bench ", i), "web", "u1", "s1")
		if err := s.Codes.CreateCode(ctx, c); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Codes.RedeemCode(ctx, c.Hash, "web", base); err != nil {
			b.Fatal(err)
		}
		f, tok := codeFamily(fmt.Sprint("bench ", i), c)
		if err := s.Refresh.CreateFamily(ctx, f, tok); err != nil {
			b.Fatal(err)
		}
	}
	refresh := func(i int) {
		next := hashOf(fmt.Sprint("bench next ", i))
		err := s.Refresh.UseRefresh(ctx, cur, func(st idp.RefreshState) (idp.RefreshUpdate, error) {
			return idp.RefreshUpdate{SpendToken: base, Issue: &idp.RefreshToken{Hash: next, Parent: st.Token.Hash, IssuedAt: base}}, nil
		})
		if err != nil {
			b.Fatal(err)
		}
		cur = next
	}

	const chunk = 16
	var (
		inSignIn, inRefresh time.Duration
		signIns, refreshes  int
	)
	for n := 0; b.Loop(); n++ {
		start := time.Now()
		if n%(2*chunk) < chunk {
			signIn(n)
			inSignIn += time.Since(start)
			signIns++
		} else {
			refresh(n)
			inRefresh += time.Since(start)
			refreshes++
		}
	}
	if signIns > 0 && refreshes > 0 {
		perSignIn := float64(inSignIn.Nanoseconds()) / float64(signIns)
		perRefresh := float64(inRefresh.Nanoseconds()) / float64(refreshes)
		b.ReportMetric(perSignIn, "ns/signin")
		b.ReportMetric(perRefresh, "ns/refresh")
		b.ReportMetric(perSignIn/perRefresh, "signin/refresh")
	}
}
