package storetest

import (
	"crypto/sha256"
	"encoding/base64"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// Helpers of the browser sign-in suites (sessions, codes, consents).

// session returns a live session of the user, named after id: idle for an
// hour, at most a day.
func session(id, userID string) idp.Session {
	return idp.Session{
		ID: id, Hash: hashOf("session " + id), UserID: userID,
		AuthTime: at(-time.Minute), AMR: []string{"pwd"},
		CreatedAt: base, LastSeenAt: base, IdleExpiresAt: at(time.Hour), ExpiresAt: at(24 * time.Hour),
	}
}

func mustCreateSession(t *testing.T, s Stores, id, userID string) idp.Session {
	t.Helper()
	se := session(id, userID)
	if err := s.Sessions.CreateSession(t.Context(), se); err != nil {
		t.Fatalf("CreateSession(%s): %v", id, err)
	}
	return se
}

// challenge is a PKCE S256 code_challenge (RFC 7636 §4.2) for name.
func challenge(name string) string {
	sum := sha256.Sum256([]byte("verifier " + name))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// code returns a fresh authorization code, named after name, that expires a
// minute after base.
func code(name, clientID, userID, sessionID string) idp.AuthCode {
	return idp.AuthCode{
		Hash: hashOf("code " + name), ClientID: clientID, UserID: userID, SessionID: sessionID,
		RedirectURI: "https://app.example.com/cb", CodeChallenge: challenge(name),
		Scope: "openid profile", Nonce: "nonce-" + name,
		AuthTime: at(-time.Minute), AMR: []string{"pwd"},
		CreatedAt: base, ExpiresAt: at(time.Minute),
	}
}

func mustCreateCode(t *testing.T, s Stores, name, clientID, userID, sessionID string) idp.AuthCode {
	t.Helper()
	c := code(name, clientID, userID, sessionID)
	if err := s.Codes.CreateCode(t.Context(), c); err != nil {
		t.Fatalf("CreateCode(%s): %v", name, err)
	}
	return c
}

func mustRedeem(t *testing.T, s Stores, c idp.AuthCode, now time.Time) idp.AuthCode {
	t.Helper()
	got, err := s.Codes.RedeemCode(t.Context(), c.Hash, c.ClientID, now)
	if err != nil {
		t.Fatalf("RedeemCode: %v", err)
	}
	return got
}

// codeFamily returns a family as the code grant makes it, named after id:
// from the code c, in c's session.
func codeFamily(id string, c idp.AuthCode) (idp.Family, idp.RefreshToken) {
	f, tok := family(id, c.ClientID, c.UserID)
	f.SessionID, f.CodeHash = c.SessionID, c.Hash
	return f, tok
}

// mustCodeFamily redeems c (at base) and creates a family from it.
func mustCodeFamily(t *testing.T, s Stores, id string, c idp.AuthCode) idp.RefreshToken {
	t.Helper()
	mustRedeem(t, s, c, base)
	f, tok := codeFamily(id, c)
	if err := s.Refresh.CreateFamily(t.Context(), f, tok); err != nil {
		t.Fatalf("CreateFamily(%s from a code): %v", id, err)
	}
	return tok
}

// mustSessionFamily creates a family recorded as created in the session,
// without a code (CreateFamily checks only codes).
func mustSessionFamily(t *testing.T, s Stores, id, clientID, userID, sessionID string) idp.RefreshToken {
	t.Helper()
	f, tok := family(id, clientID, userID)
	f.SessionID = sessionID
	if err := s.Refresh.CreateFamily(t.Context(), f, tok); err != nil {
		t.Fatalf("CreateFamily(%s in session %s): %v", id, sessionID, err)
	}
	return tok
}

// rotate spends hash and issues a successor named next, unless the family is
// revoked; it returns the token that is now the family's latest.
func rotate(t *testing.T, s Stores, hash []byte, next string, now time.Time) []byte {
	t.Helper()
	latest := hash
	err := s.Refresh.UseRefresh(t.Context(), hash, func(st idp.RefreshState) (idp.RefreshUpdate, error) {
		latest = hash
		if !st.Family.RevokedAt.IsZero() || !st.Token.SpentAt.IsZero() {
			return idp.RefreshUpdate{}, nil
		}
		succ := idp.RefreshToken{Hash: hashOf(next), Parent: hash, IssuedAt: now}
		latest = succ.Hash
		return idp.RefreshUpdate{SpendToken: now, Issue: &succ}, nil
	})
	if err != nil {
		t.Errorf("UseRefresh: %v", err)
	}
	return latest
}

// signInFixture is one user with a session and a client: the common start.
func signInFixture(t *testing.T, s Stores) {
	t.Helper()
	mustCreateClient(t, s, "web")
	mustCreateUser(t, s, "u1", "alice", "h1")
	mustCreateSession(t, s, "s1", "u1")
}
