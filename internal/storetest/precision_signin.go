package storetest

import (
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// The browser sign-in records' part of TestTimePrecision. Each helper makes
// its own user, so that it depends on no other.

func sessionTimes(t *testing.T, s Stores, id string, in time.Time) []time.Time {
	t.Helper()
	mustCreateUser(t, s, "session user "+id, "session user "+id, "h")
	se := session("precision "+id, "session user "+id)
	se.AuthTime, se.CreatedAt, se.LastSeenAt, se.IdleExpiresAt, se.ExpiresAt = in, in, in, in, in
	if err := s.Sessions.CreateSession(t.Context(), se); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	got, err := s.Sessions.SessionByHash(t.Context(), se.Hash, in.Add(-time.Hour))
	if err != nil {
		t.Fatalf("SessionByHash: %v", err)
	}
	return []time.Time{got.AuthTime, got.CreatedAt, got.LastSeenAt, got.IdleExpiresAt, got.ExpiresAt}
}

// codeTimes stores a code that expires an hour after in (whole hours keep
// the fraction of a second), redeems it at in and replays it at in.
func codeTimes(t *testing.T, s Stores, id string, in time.Time) []time.Time {
	t.Helper()
	mustCreateUser(t, s, "code user "+id, "code user "+id, "h")
	c := code("precision "+id, "precision", "code user "+id, "")
	c.AuthTime, c.CreatedAt, c.ExpiresAt = in, in, in.Add(time.Hour)
	if err := s.Codes.CreateCode(t.Context(), c); err != nil {
		t.Fatalf("CreateCode: %v", err)
	}
	got, err := s.Codes.RedeemCode(t.Context(), c.Hash, c.ClientID, in)
	if err != nil {
		t.Fatalf("RedeemCode: %v", err)
	}
	replayed, err := s.Codes.RedeemCode(t.Context(), c.Hash, c.ClientID, in)
	wantErr(t, "RedeemCode(replay)", err, idp.ErrCodeReused)
	return []time.Time{got.AuthTime, got.CreatedAt, got.ExpiresAt.Add(-time.Hour), got.RedeemedAt, replayed.RevokedAt}
}

func consentTimes(t *testing.T, s Stores, id string, in time.Time) []time.Time {
	t.Helper()
	mustCreateUser(t, s, "consent user "+id, "consent user "+id, "h")
	granted, err := s.Consents.GrantConsent(t.Context(), "consent user "+id, "precision", []string{"openid"}, in)
	if err != nil {
		t.Fatalf("GrantConsent: %v", err)
	}
	stored, err := s.Consents.Consent(t.Context(), "consent user "+id, "precision")
	if err != nil {
		t.Fatalf("Consent: %v", err)
	}
	return []time.Time{granted.GrantedAt, stored.GrantedAt}
}
