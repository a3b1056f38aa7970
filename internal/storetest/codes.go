package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// TestCodeStore checks idp.CodeStore and the families made from codes.
func TestCodeStore(t *testing.T, open Open) {
	t.Run("CreateAndRedeem", func(t *testing.T) {
		s := open(t)
		signInFixture(t, s)
		full := code("c1", "web", "u1", "s1")
		bare := code("c2", "web", "u1", "")
		bare.Nonce, bare.AMR, bare.RedirectURI, bare.Scope = "", nil, "", ""
		for name, c := range map[string]idp.AuthCode{"full": full, "nothing optional": bare} {
			t.Run(name, func(t *testing.T) {
				c.RedeemedAt, c.RevokedAt, c.RevokeReason = at(time.Hour), at(time.Hour), "ignored"
				if err := s.Codes.CreateCode(t.Context(), c); err != nil {
					t.Fatalf("CreateCode: %v", err)
				}
				got, err := s.Codes.RedeemCode(t.Context(), c.Hash, c.ClientID, at(time.Second))
				if err != nil {
					t.Fatalf("RedeemCode: %v", err)
				}
				c.RedeemedAt, c.RevokedAt, c.RevokeReason = at(time.Second), time.Time{}, ""
				diff(t, "redeemed code", c, got)
				if got.ExpiresAt.Location() != time.UTC || got.RedeemedAt.Location() != time.UTC {
					t.Error("times are not in UTC")
				}
			})
		}
	})

	t.Run("CreateRefused", func(t *testing.T) {
		s := open(t)
		signInFixture(t, s)
		c := mustCreateCode(t, s, "c1", "web", "u1", "s1")
		dup := code("c2", "web", "u1", "s1")
		dup.Hash = c.Hash
		wantErr(t, "CreateCode(same hash)", s.Codes.CreateCode(t.Context(), dup), idp.ErrConflict)
		wantErr(t, "CreateCode(unknown client)", s.Codes.CreateCode(t.Context(), code("c3", "nope", "u1", "s1")), idp.ErrNotFound)
		wantErr(t, "CreateCode(unknown user)", s.Codes.CreateCode(t.Context(), code("c4", "web", "nobody", "s1")), idp.ErrNotFound)
		mustCreateUser(t, s, "u2", "bob", "h2")
		if err := s.Users.SetUserDisabled(t.Context(), "bob", true, base); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "CreateCode(disabled user)", s.Codes.CreateCode(t.Context(), code("c6", "web", "u2", "")), idp.ErrNotFound)
		plain := code("c5", "web", "u1", "s1")
		plain.CodeChallenge = "plain-verifier" // not an S256 challenge
		if err := s.Codes.CreateCode(t.Context(), plain); err == nil {
			t.Error("CreateCode stored a code_challenge that is not S256-shaped")
		}
		got := mustRedeem(t, s, c, base)
		diff(t, "the first code after the conflict", c.Nonce, got.Nonce)
	})

	t.Run("RedeemRefusals", func(t *testing.T) {
		tests := []struct {
			name    string
			client  string
			now     time.Time
			prepare func(Stores)
			want    error
		}{
			{"unknown code", "web", base, nil, idp.ErrNotFound},
			{"another client's", "other", base, nil, idp.ErrNotFound},
			{"just before expiry", "web", at(time.Minute - time.Microsecond), nil, nil},
			{"at expiry", "web", at(time.Minute), nil, idp.ErrCodeExpired},
			{"after expiry", "web", at(time.Hour), nil, idp.ErrCodeExpired},
			{"revoked", "web", base, func(s Stores) {
				if err := s.Sessions.EndSession(t.Context(), "s1", idp.ReasonLogout, base); err != nil {
					t.Fatal(err)
				}
			}, idp.ErrRevoked},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := open(t)
				signInFixture(t, s)
				mustCreateClient(t, s, "other")
				c := mustCreateCode(t, s, "c1", "web", "u1", "s1")
				hash := c.Hash
				if tt.name == "unknown code" {
					hash = hashOf("code nobody issued")
				}
				if tt.prepare != nil {
					tt.prepare(s)
				}
				_, err := s.Codes.RedeemCode(t.Context(), hash, tt.client, tt.now)
				if tt.want == nil {
					if err != nil {
						t.Fatalf("RedeemCode: %v", err)
					}
					return
				}
				wantErr(t, "RedeemCode", err, tt.want)
				if tt.client != "web" {
					mustRedeem(t, s, c, base) // the wrong client did not burn it
				}
			})
		}
	})

	t.Run("ReplayRevokesFamilies", func(t *testing.T) {
		s := open(t)
		signInFixture(t, s)
		c := mustCreateCode(t, s, "c1", "web", "u1", "s1")
		first := mustCodeFamily(t, s, "f1", c)
		rotated := rotate(t, s, first.Hash, "f1 next", at(time.Second))
		other := mustCodeFamily(t, s, "f2", mustCreateCode(t, s, "c2", "web", "u1", "s1"))

		got, err := s.Codes.RedeemCode(t.Context(), c.Hash, "web", at(2*time.Second))
		wantErr(t, "RedeemCode(replay)", err, idp.ErrCodeReused)
		want := c
		want.RedeemedAt, want.RevokedAt, want.RevokeReason = base, at(2*time.Second), idp.ReasonCodeReuse
		diff(t, "code returned with ErrCodeReused", want, got)
		checkRevoked(t, s, first.Hash, at(2*time.Second), idp.ReasonCodeReuse)
		checkRevoked(t, s, rotated, at(2*time.Second), idp.ReasonCodeReuse)
		checkLive(t, s, other.Hash)

		// Again: still a replay; the first revocation stays.
		_, err = s.Codes.RedeemCode(t.Context(), c.Hash, "web", at(time.Hour))
		wantErr(t, "RedeemCode(second replay, after expiry)", err, idp.ErrCodeReused)
		checkRevoked(t, s, first.Hash, at(2*time.Second), idp.ReasonCodeReuse)
		f, tok := codeFamily("f3", c)
		wantErr(t, "CreateFamily(from a replayed code)", s.Refresh.CreateFamily(t.Context(), f, tok), idp.ErrCodeReused)
	})

	t.Run("ReplayAfterExpiry", func(t *testing.T) {
		s := open(t)
		signInFixture(t, s)
		c := mustCreateCode(t, s, "c1", "web", "u1", "s1")
		tok := mustCodeFamily(t, s, "f1", c)
		_, err := s.Codes.RedeemCode(t.Context(), c.Hash, "web", at(time.Hour))
		wantErr(t, "RedeemCode(replay an hour later)", err, idp.ErrCodeReused)
		checkRevoked(t, s, tok.Hash, at(time.Hour), idp.ReasonCodeReuse)
	})

	t.Run("ReplayByAnotherClient", func(t *testing.T) {
		s := open(t)
		signInFixture(t, s)
		mustCreateClient(t, s, "other")
		c := mustCreateCode(t, s, "c1", "web", "u1", "s1")
		tok := mustCodeFamily(t, s, "f1", c)
		_, err := s.Codes.RedeemCode(t.Context(), c.Hash, "other", at(time.Second))
		wantErr(t, "RedeemCode(another client)", err, idp.ErrNotFound)
		checkLive(t, s, tok.Hash)
	})

	t.Run("CreateFamilyChecksTheCode", func(t *testing.T) {
		tests := []struct {
			name    string
			prepare func(*testing.T, Stores, idp.AuthCode) idp.AuthCode // returns the code the family names
			want    error
		}{
			{"redeemed", func(t *testing.T, s Stores, c idp.AuthCode) idp.AuthCode { mustRedeem(t, s, c, base); return c }, nil},
			{"unknown", func(t *testing.T, s Stores, c idp.AuthCode) idp.AuthCode {
				c.Hash = hashOf("nobody's code")
				return c
			}, idp.ErrNotFound},
			{"not redeemed", func(t *testing.T, s Stores, c idp.AuthCode) idp.AuthCode { return c }, idp.ErrNotFound},
			{"redeemed by another client", func(t *testing.T, s Stores, c idp.AuthCode) idp.AuthCode {
				mustRedeem(t, s, c, base)
				c.ClientID = "other"
				return c
			}, idp.ErrNotFound},
			{"session ended after redemption", func(t *testing.T, s Stores, c idp.AuthCode) idp.AuthCode {
				mustRedeem(t, s, c, base)
				if err := s.Sessions.EndSession(t.Context(), "s1", idp.ReasonLogout, base); err != nil {
					t.Fatal(err)
				}
				return c
			}, idp.ErrRevoked},
			{"replayed", func(t *testing.T, s Stores, c idp.AuthCode) idp.AuthCode {
				mustRedeem(t, s, c, base)
				_, err := s.Codes.RedeemCode(t.Context(), c.Hash, c.ClientID, base)
				wantErr(t, "replay", err, idp.ErrCodeReused)
				return c
			}, idp.ErrCodeReused},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := open(t)
				signInFixture(t, s)
				mustCreateClient(t, s, "other")
				c := tt.prepare(t, s, mustCreateCode(t, s, "c1", "web", "u1", "s1"))
				f, tok := codeFamily("f1", c)
				err := s.Refresh.CreateFamily(t.Context(), f, tok)
				if tt.want == nil {
					if err != nil {
						t.Fatalf("CreateFamily: %v", err)
					}
					diff(t, "family from a code", idp.RefreshState{Family: f, Token: tok}, mustLookup(t, s, tok.Hash))
					return
				}
				wantErr(t, "CreateFamily", err, tt.want)
				_, err = s.Refresh.LookupRefresh(t.Context(), tok.Hash)
				wantErr(t, "LookupRefresh(token of the refused family)", err, idp.ErrNotFound)
			})
		}
	})

	t.Run("RedeemBurst", func(t *testing.T) {
		// N parallel redemptions of one code, the winner exchanging it for
		// a family as the token endpoint does: exactly one succeeds, every
		// other one is a replay, and the family ends revoked (or is refused,
		// if every replay came first).
		s := open(t)
		signInFixture(t, s)
		hs := handles(t, s)
		const n = 16
		for round := range 5 {
			c := mustCreateCode(t, s, fmt.Sprint("c", round), "web", "u1", "s1")
			f, tok := codeFamily(fmt.Sprint("f", round), c)
			errs := make([]error, n)
			familyErr := errors.New("no winner")
			parallel(n, hs, func(i int, h Stores) {
				if _, errs[i] = h.Codes.RedeemCode(t.Context(), c.Hash, "web", at(time.Second)); errs[i] == nil {
					familyErr = h.Refresh.CreateFamily(t.Context(), f, tok)
				}
			})
			won := 0
			for i, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, idp.ErrCodeReused):
					t.Errorf("round %d, redemption %d: %v, want ErrCodeReused", round, i, err)
				}
			}
			if won != 1 {
				t.Fatalf("round %d: %d redemptions succeeded, want exactly 1", round, won)
			}
			if familyErr != nil {
				wantErr(t, fmt.Sprintf("round %d: CreateFamily", round), familyErr, idp.ErrCodeReused)
				continue
			}
			checkRevoked(t, s, tok.Hash, at(time.Second), idp.ReasonCodeReuse)
		}
	})

	t.Run("ReplayRacesFamilyCreation", func(t *testing.T) {
		// The code grant redeems, then creates the family; a replay may land
		// in between. Either the family is refused or the replay revokes
		// it: never a live family from a replayed code.
		s := open(t)
		signInFixture(t, s)
		hs := handles(t, s)
		for round := range 30 {
			c := mustCreateCode(t, s, fmt.Sprint("c", round), "web", "u1", "s1")
			mustRedeem(t, s, c, base)
			f, tok := codeFamily(fmt.Sprint("f", round), c)
			var createErr error
			parallel(2, hs, func(i int, h Stores) {
				if i == 0 {
					createErr = h.Refresh.CreateFamily(t.Context(), f, tok)
					return
				}
				_, err := h.Codes.RedeemCode(t.Context(), c.Hash, "web", at(time.Second))
				wantErr(t, "replay", err, idp.ErrCodeReused)
			})
			if createErr != nil {
				wantErr(t, fmt.Sprintf("round %d: CreateFamily", round), createErr, idp.ErrCodeReused)
				continue
			}
			checkRevoked(t, s, tok.Hash, at(time.Second), idp.ReasonCodeReuse)
		}
	})

	t.Run("PurgeCodes", func(t *testing.T) {
		s := open(t)
		signInFixture(t, s)
		expiries := map[string]time.Duration{"long-gone": -time.Hour, "just-gone": -time.Microsecond, "at-cutoff": 0, "live": time.Minute}
		codes := map[string]idp.AuthCode{}
		for name, d := range expiries {
			c := code(name, "web", "u1", "s1")
			c.CreatedAt, c.ExpiresAt = at(d-time.Minute), at(d)
			if err := s.Codes.CreateCode(t.Context(), c); err != nil {
				t.Fatal(err)
			}
			codes[name] = c
		}
		tok := mustCodeFamily(t, s, "f1", codes["live"]) // redeemed codes are purged too, once expired
		n, err := s.Codes.PurgeCodes(t.Context(), base)
		if err != nil || n != 2 {
			t.Fatalf("PurgeCodes = %d, %v; want 2, nil", n, err)
		}
		for name, c := range codes {
			_, err := s.Codes.RedeemCode(t.Context(), c.Hash, "web", at(-2*time.Hour))
			switch name {
			case "long-gone", "just-gone":
				wantErr(t, "RedeemCode("+name+")", err, idp.ErrNotFound)
			case "live":
				wantErr(t, "RedeemCode(live, redeemed)", err, idp.ErrCodeReused)
			default:
				if err != nil {
					t.Errorf("RedeemCode(%s): %v, want it kept", name, err)
				}
			}
		}
		if n, err := s.Codes.PurgeCodes(t.Context(), at(time.Hour)); err != nil || n != 2 {
			t.Errorf("PurgeCodes(later) = %d, %v; want 2, nil", n, err)
		}
		f := mustLookup(t, s, tok.Hash).Family
		if f.CodeHash == nil {
			t.Error("the family forgot its code when the code was purged")
		}
	})

	t.Run("DeleteClientDeletesCodes", func(t *testing.T) {
		s := open(t)
		signInFixture(t, s)
		c := mustCreateCode(t, s, "c1", "web", "u1", "s1")
		if err := s.Clients.DeleteClient(t.Context(), "web"); err != nil {
			t.Fatal(err)
		}
		mustCreateClient(t, s, "web")
		_, err := s.Codes.RedeemCode(t.Context(), c.Hash, "web", base)
		wantErr(t, "RedeemCode(code of a deleted client)", err, idp.ErrNotFound)
	})
}
