package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// TestConsentStore checks idp.ConsentStore.
func TestConsentStore(t *testing.T, open Open) {
	t.Run("GrantIsAUnion", func(t *testing.T) {
		s := open(t)
		signInFixture(t, s)
		steps := []struct {
			scopes []string
			at     time.Time
			want   []string
		}{
			{[]string{"profile", "openid", "openid"}, base, []string{"openid", "profile"}},
			{[]string{"email", "openid", "Zeta"}, at(time.Hour), []string{"Zeta", "email", "openid", "profile"}}, // byte order
			{nil, at(2 * time.Hour), []string{"Zeta", "email", "openid", "profile"}},
		}
		for i, st := range steps {
			got, err := s.Consents.GrantConsent(t.Context(), "u1", "web", st.scopes, st.at)
			if err != nil {
				t.Fatalf("GrantConsent #%d: %v", i+1, err)
			}
			want := idp.Consent{UserID: "u1", ClientID: "web", Scopes: st.want, GrantedAt: st.at}
			diff(t, fmt.Sprintf("consent returned by grant #%d", i+1), want, got)
			stored, err := s.Consents.Consent(t.Context(), "u1", "web")
			if err != nil {
				t.Fatalf("Consent: %v", err)
			}
			diff(t, fmt.Sprintf("consent stored by grant #%d", i+1), want, stored)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		signInFixture(t, s)
		_, err := s.Consents.Consent(t.Context(), "u1", "web")
		wantErr(t, "Consent(none)", err, idp.ErrNotFound)
		_, err = s.Consents.GrantConsent(t.Context(), "nobody", "web", []string{"openid"}, base)
		wantErr(t, "GrantConsent(unknown user)", err, idp.ErrNotFound)
		_, err = s.Consents.GrantConsent(t.Context(), "u1", "nope", []string{"openid"}, base)
		wantErr(t, "GrantConsent(unknown client)", err, idp.ErrNotFound)
		wantErr(t, "RevokeConsent(none)", s.Consents.RevokeConsent(t.Context(), "u1", "web", base), idp.ErrNotFound)
	})

	t.Run("ConsentsOfAUser", func(t *testing.T) {
		s := open(t)
		signInFixture(t, s)
		mustCreateUser(t, s, "u2", "bob", "h2")
		if got, err := s.Consents.Consents(t.Context(), "u1"); err != nil || len(got) != 0 {
			t.Fatalf("Consents with none = %v, %v; want none, nil", got, err)
		}
		for _, id := range []string{"web", "Admin", "api"} {
			if id != "web" {
				mustCreateClient(t, s, id)
			}
			if _, err := s.Consents.GrantConsent(t.Context(), "u1", id, []string{"openid"}, base); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Consents.GrantConsent(t.Context(), "u2", "web", []string{"email"}, base); err != nil {
			t.Fatal(err)
		}
		got, err := s.Consents.Consents(t.Context(), "u1")
		if err != nil {
			t.Fatal(err)
		}
		var want []idp.Consent
		for _, id := range []string{"Admin", "api", "web"} { // byte order
			want = append(want, idp.Consent{UserID: "u1", ClientID: id, Scopes: []string{"openid"}, GrantedAt: base})
		}
		diff(t, "consents", want, got)
		if got, err := s.Consents.Consents(t.Context(), "nobody"); err != nil || len(got) != 0 {
			t.Errorf("Consents(unknown user) = %v, %v; want none, nil", got, err)
		}
	})

	t.Run("RevokeConsent", func(t *testing.T) {
		s := open(t)
		signInFixture(t, s)
		mustCreateClient(t, s, "api")
		mustCreateUser(t, s, "u2", "bob", "h2")
		for _, g := range [][2]string{{"u1", "web"}, {"u1", "api"}, {"u2", "web"}} {
			if _, err := s.Consents.GrantConsent(t.Context(), g[0], g[1], []string{"openid"}, base); err != nil {
				t.Fatal(err)
			}
		}
		fromCode := mustCodeFamily(t, s, "f-code", mustCreateCode(t, s, "c1", "web", "u1", "s1"))
		_, password := mustCreateFamily(t, s, "f-password", "web", "u1")
		_, otherClient := mustCreateFamily(t, s, "f-api", "api", "u1")
		_, otherUser := mustCreateFamily(t, s, "f-bob", "web", "u2")
		pending := mustCreateCode(t, s, "c2", "web", "u1", "s1")
		otherCode := mustCreateCode(t, s, "c3", "api", "u1", "s1")

		if err := s.Consents.RevokeConsent(t.Context(), "u1", "web", at(time.Minute)); err != nil {
			t.Fatalf("RevokeConsent: %v", err)
		}
		_, err := s.Consents.Consent(t.Context(), "u1", "web")
		wantErr(t, "Consent(revoked)", err, idp.ErrNotFound)
		for _, other := range [][2]string{{"u1", "api"}, {"u2", "web"}} {
			if _, err := s.Consents.Consent(t.Context(), other[0], other[1]); err != nil {
				t.Errorf("consent of %s for %s: %v", other[0], other[1], err)
			}
		}
		checkRevoked(t, s, fromCode.Hash, at(time.Minute), idp.ReasonConsentRevoked)
		checkRevoked(t, s, password.Hash, at(time.Minute), idp.ReasonConsentRevoked)
		checkLive(t, s, otherClient.Hash)
		checkLive(t, s, otherUser.Hash)
		_, err = s.Codes.RedeemCode(t.Context(), pending.Hash, "web", base)
		wantErr(t, "RedeemCode(code under the revoked consent)", err, idp.ErrRevoked)
		mustRedeem(t, s, otherCode, base)
		if _, err := s.Sessions.SessionByHash(t.Context(), hashOf("session s1"), base); err != nil {
			t.Errorf("the session: %v, want it kept (consent is per client)", err)
		}
		wantErr(t, "RevokeConsent again", s.Consents.RevokeConsent(t.Context(), "u1", "web", at(time.Hour)), idp.ErrNotFound)
		checkRevoked(t, s, fromCode.Hash, at(time.Minute), idp.ReasonConsentRevoked)
	})

	t.Run("DeleteClientDeletesConsents", func(t *testing.T) {
		s := open(t)
		signInFixture(t, s)
		if _, err := s.Consents.GrantConsent(t.Context(), "u1", "web", []string{"openid"}, base); err != nil {
			t.Fatal(err)
		}
		if err := s.Clients.DeleteClient(t.Context(), "web"); err != nil {
			t.Fatal(err)
		}
		mustCreateClient(t, s, "web")
		_, err := s.Consents.Consent(t.Context(), "u1", "web")
		wantErr(t, "Consent(of a deleted client)", err, idp.ErrNotFound)
	})

	t.Run("ConcurrentGrants", func(t *testing.T) {
		// Two consent pages submitted at once: the union keeps both.
		s := open(t)
		signInFixture(t, s)
		const n = 16
		var want []string
		for i := range n {
			want = append(want, fmt.Sprintf("scope%02d", i))
		}
		parallel(n, handles(t, s), func(i int, h Stores) {
			if _, err := h.Consents.GrantConsent(t.Context(), "u1", "web", []string{want[i], "openid"}, at(time.Second)); err != nil {
				t.Errorf("GrantConsent %d: %v", i, err)
			}
		})
		got, err := s.Consents.Consent(t.Context(), "u1", "web")
		if err != nil {
			t.Fatal(err)
		}
		want = slices.Sorted(slices.Values(append(want, "openid")))
		diff(t, "scopes after concurrent grants", want, got.Scopes)
	})

	t.Run("RevokeRacesRefresh", func(t *testing.T) {
		// Revoking consent while the client's refresh tokens rotate: every
		// family of the user and client ends revoked, tokens issued in the
		// race included.
		s := open(t)
		signInFixture(t, s)
		if _, err := s.Consents.GrantConsent(t.Context(), "u1", "web", []string{"openid"}, base); err != nil {
			t.Fatal(err)
		}
		const n = 16
		first := make([][]byte, n)
		for i := range n {
			_, tok := mustCreateFamily(t, s, fmt.Sprint("f", i), "web", "u1")
			first[i] = tok.Hash
		}
		latest := make([][]byte, n)
		parallel(n+1, handles(t, s), func(i int, h Stores) {
			if i == n {
				if err := h.Consents.RevokeConsent(t.Context(), "u1", "web", at(time.Second)); err != nil {
					t.Errorf("RevokeConsent: %v", err)
				}
				return
			}
			latest[i] = rotate(t, h, first[i], fmt.Sprint("f", i, " next"), at(time.Second))
		})
		for i := range n {
			for _, h := range [][]byte{first[i], latest[i]} {
				if f := mustLookup(t, s, h).Family; f.RevokedAt.IsZero() {
					t.Errorf("family %s is live after its consent was revoked", f.ID)
				}
			}
		}
	})
}
