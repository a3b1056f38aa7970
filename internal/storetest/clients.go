package storetest

import (
	"testing"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// TestClientStore checks idp.ClientStore.
func TestClientStore(t *testing.T, open Open) {
	t.Run("CreateAndGet", func(t *testing.T) {
		s := open(t)
		tests := []struct {
			name string
			c    idp.Client
		}{
			{"confidential", idp.Client{
				ID: "schedules-web", SecretHash: hashOf("s3cret"),
				GrantTypes: []string{"password", "refresh_token"},
				Scopes:     []string{"schedules:read", "schedules:write"},
				Audiences:  []string{"https://api.example.com", "https://admin.example.com"},
				TokenAlg:   "EdDSA", CreatedAt: base,
			}},
			{"public, nothing optional", idp.Client{ID: "cli", Public: true, CreatedAt: at(time.Microsecond)}},
			{"machine", idp.Client{ID: "batch", SecretHash: hashOf("b"), GrantTypes: []string{"client_credentials"}, CreatedAt: at(-time.Hour)}},
			{"resource server that introspects", idp.Client{ID: "api", SecretHash: hashOf("a"), GrantTypes: []string{"client_credentials"},
				Introspect: true, CreatedAt: base}},
			{"browser sign-in", idp.Client{
				ID: "portal", SecretHash: hashOf("p"), GrantTypes: []string{"authorization_code", "refresh_token"},
				Scopes: []string{"openid", "email"}, Audiences: []string{"https://api.example.com"}, CreatedAt: base,
				Name:                   "Schedules — «portal»",
				RedirectURIs:           []string{"https://portal.example.com/cb", "http://127.0.0.1/cb", "https://portal.example.com/cb?tenant=a,b"},
				PostLogoutRedirectURIs: []string{"https://portal.example.com/"},
				FirstParty:             true,
			}},
			{"private_key_jwt, DPoP required", idp.Client{
				ID: "worker", GrantTypes: []string{"client_credentials"}, Audiences: []string{"https://api.example.com"},
				CreatedAt: base, AuthMethod: idp.AuthPrivateKeyJWT, RequireDPoP: true,
				JWKS: `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","alg":"EdDSA"}]}`,
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := s.Clients.CreateClient(t.Context(), tt.c); err != nil {
					t.Fatalf("CreateClient: %v", err)
				}
				got, err := s.Clients.ClientByID(t.Context(), tt.c.ID)
				if err != nil {
					t.Fatalf("ClientByID: %v", err)
				}
				diff(t, "client", tt.c, got)
				if got.CreatedAt.Location() != time.UTC {
					t.Errorf("CreatedAt in %v, want UTC", got.CreatedAt.Location())
				}
			})
		}
	})

	t.Run("SetClientKeys", func(t *testing.T) { testSetClientKeys(t, open) })
	t.Run("SetClientKeysURI", func(t *testing.T) { testSetClientKeysURI(t, open) })

	t.Run("CreateConflict", func(t *testing.T) {
		s := open(t)
		mustCreateClient(t, s, "c1")
		err := s.Clients.CreateClient(t.Context(), idp.Client{ID: "c1", Public: true, CreatedAt: base})
		wantErr(t, "CreateClient", err, idp.ErrConflict)
		got, err := s.Clients.ClientByID(t.Context(), "c1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Public {
			t.Error("the conflicting create changed the stored client")
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		_, err := s.Clients.ClientByID(t.Context(), "nope")
		wantErr(t, "ClientByID", err, idp.ErrNotFound)
		wantErr(t, "DeleteClient", s.Clients.DeleteClient(t.Context(), "nope"), idp.ErrNotFound)
	})

	t.Run("ClientsOrderedByID", func(t *testing.T) {
		s := open(t)
		got, err := s.Clients.Clients(t.Context())
		if err != nil || len(got) != 0 {
			t.Fatalf("Clients on an empty store = %v, %v; want none, nil", got, err)
		}
		for _, id := range []string{"web", "Admin", "api", "api-2"} {
			mustCreateClient(t, s, id)
		}
		got, err = s.Clients.Clients(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range got {
			ids = append(ids, c.ID)
		}
		diff(t, "ids", []string{"Admin", "api", "api-2", "web"}, ids)
	})

	t.Run("DeleteClientCascades", func(t *testing.T) {
		s := open(t)
		mustCreateClient(t, s, "c1")
		mustCreateClient(t, s, "c2")
		_, first := mustCreateFamily(t, s, "f1", "c1", "u1")
		second := idp.RefreshToken{Hash: hashOf("second"), FamilyID: "f1", Parent: first.Hash, IssuedAt: at(time.Minute)}
		err := s.Refresh.UseRefresh(t.Context(), first.Hash, func(idp.RefreshState) (idp.RefreshUpdate, error) {
			return idp.RefreshUpdate{SpendToken: at(time.Minute), Issue: &second}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		_, other := mustCreateFamily(t, s, "f2", "c2", "u1")

		if err := s.Clients.DeleteClient(t.Context(), "c1"); err != nil {
			t.Fatalf("DeleteClient: %v", err)
		}
		_, err = s.Clients.ClientByID(t.Context(), "c1")
		wantErr(t, "ClientByID(deleted)", err, idp.ErrNotFound)
		for name, h := range map[string][]byte{"first": first.Hash, "second": second.Hash} {
			_, err := s.Refresh.LookupRefresh(t.Context(), h)
			wantErr(t, "LookupRefresh("+name+" token of deleted client)", err, idp.ErrNotFound)
		}
		wantErr(t, "RevokeFamily(family of deleted client)", s.Refresh.RevokeFamily(t.Context(), "f1", "x", base), idp.ErrNotFound)
		checkLive(t, s, other.Hash)

		// A new client with the same ID starts clean.
		mustCreateClient(t, s, "c1")
		_, err = s.Refresh.LookupRefresh(t.Context(), first.Hash)
		wantErr(t, "LookupRefresh after re-creating the client", err, idp.ErrNotFound)
	})
}

// testSetClientKeys checks ClientStore.SetClientKeys.
func testSetClientKeys(t *testing.T, open Open) {
	s := open(t)
	c := idp.Client{ID: "worker", GrantTypes: []string{"client_credentials"}, CreatedAt: base, AuthMethod: idp.AuthPrivateKeyJWT, JWKS: `{"keys":[]}`}
	if err := s.Clients.CreateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	const rotated = `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","alg":"EdDSA"}]}`
	if err := s.Clients.SetClientKeys(t.Context(), "worker", rotated); err != nil {
		t.Fatalf("SetClientKeys: %v", err)
	}
	got, err := s.Clients.ClientByID(t.Context(), "worker")
	if err != nil || got.JWKS != rotated {
		t.Errorf("after SetClientKeys: %q, %v", got.JWKS, err)
	}
	wantErr(t, "SetClientKeys(unknown)", s.Clients.SetClientKeys(t.Context(), "nobody", rotated), idp.ErrNotFound)
	mustCreateClient(t, s, "secret-client")
	wantErr(t, "SetClientKeys(secret client)", s.Clients.SetClientKeys(t.Context(), "secret-client", rotated), idp.ErrNotFound)
}

// testSetClientKeysURI checks ClientStore.SetClientKeysURI: a client holds a
// JWKS or a jwks_uri, and setting one drops the other.
func testSetClientKeysURI(t *testing.T, open Open) {
	s := open(t)
	const uri = "https://worker.example/jwks.json"
	c := idp.Client{ID: "fetched", GrantTypes: []string{"client_credentials"}, CreatedAt: base, AuthMethod: idp.AuthPrivateKeyJWT, JWKSURI: uri}
	if err := s.Clients.CreateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Clients.ClientByID(t.Context(), "fetched"); err != nil || got.JWKSURI != uri || got.JWKS != "" {
		t.Errorf("created with jwks_uri: %q %q, %v", got.JWKSURI, got.JWKS, err)
	}
	both := idp.Client{ID: "both", GrantTypes: []string{"client_credentials"}, CreatedAt: base, AuthMethod: idp.AuthPrivateKeyJWT, JWKS: `{"keys":[]}`, JWKSURI: uri}
	if err := s.Clients.CreateClient(t.Context(), both); err == nil {
		t.Error("a client with both jwks and jwks_uri was stored")
	}
	const keys = `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","alg":"EdDSA"}]}`
	if err := s.Clients.SetClientKeys(t.Context(), "fetched", keys); err != nil {
		t.Fatalf("SetClientKeys: %v", err)
	}
	if got, err := s.Clients.ClientByID(t.Context(), "fetched"); err != nil || got.JWKS != keys || got.JWKSURI != "" {
		t.Errorf("after SetClientKeys: %q %q, %v", got.JWKS, got.JWKSURI, err)
	}
	const uri2 = "https://worker.example/next.json"
	if err := s.Clients.SetClientKeysURI(t.Context(), "fetched", uri2); err != nil {
		t.Fatalf("SetClientKeysURI: %v", err)
	}
	if got, err := s.Clients.ClientByID(t.Context(), "fetched"); err != nil || got.JWKSURI != uri2 || got.JWKS != "" {
		t.Errorf("after SetClientKeysURI: %q %q, %v", got.JWKSURI, got.JWKS, err)
	}
	wantErr(t, "SetClientKeysURI(unknown)", s.Clients.SetClientKeysURI(t.Context(), "nobody", uri), idp.ErrNotFound)
	mustCreateClient(t, s, "secret-client")
	wantErr(t, "SetClientKeysURI(secret client)", s.Clients.SetClientKeysURI(t.Context(), "secret-client", uri), idp.ErrNotFound)
}
