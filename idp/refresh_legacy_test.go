package idp_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// A refresh token of the earlier format (the prefix and 32 random bytes,
// stored under its SHA-256 alone) keeps working after an upgrade: it is
// found, rotated into a token of the current format, and its replay revokes
// the family like any other.
func TestLegacyRefreshTokenRotates(t *testing.T) {
	e := newEnv(t)
	secret := e.client(idp.ClientSpec{ID: "web", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read"}})
	u := e.user("alice", "correct horse battery")
	legacy := idp.RefreshTokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("legacy-token-bytes-of-32-length!", 1)))
	sum := sha256.Sum256([]byte(legacy))
	now := e.clock.Now().UTC().Truncate(time.Microsecond)
	fam := idp.Family{ID: "legacy-family", ClientID: "web", Subject: u.ID, Scope: "read", CredentialVersion: u.CredentialVersion,
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := e.store.CreateFamily(context.Background(), fam, idp.RefreshToken{Hash: sum[:], IssuedAt: now}); err != nil {
		t.Fatal(err)
	}

	next := e.refresh("web", secret, legacy, nil)
	if next.status != http.StatusOK {
		t.Fatalf("legacy refresh: %d %s", next.status, next.raw)
	}
	rt := next.str("refresh_token")
	if len(rt) == len(legacy) || !strings.HasPrefix(rt, idp.RefreshTokenPrefix) {
		t.Fatalf("rotated into %q, want a token of the current format", rt)
	}
	if r := e.refresh("web", secret, legacy, nil); r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
		t.Fatalf("replayed legacy token: %d %s", r.status, r.raw)
	}
	if r := e.refresh("web", secret, rt, nil); r.status != http.StatusBadRequest {
		t.Fatalf("successor after the legacy token's replay: %d %s, want the family revoked", r.status, r.raw)
	}
}
