package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rotor-idp/rotor/idp"
)

const clientColumns = `id, secret_hash, public, grant_types, scopes, audiences, token_alg, created_at, ` +
	`name, redirect_uris, post_logout_redirect_uris, first_party, introspect, auth_method, jwks, require_dpop, jwks_uri`

func scanClient(row pgx.Row) (idp.Client, error) {
	var c idp.Client
	var created pgtype.Timestamptz
	err := row.Scan(&c.ID, &c.SecretHash, &c.Public, &c.GrantTypes, &c.Scopes, &c.Audiences, &c.TokenAlg, &created,
		&c.Name, &c.RedirectURIs, &c.PostLogoutRedirectURIs, &c.FirstParty, &c.Introspect, &c.AuthMethod, &c.JWKS, &c.RequireDPoP, &c.JWKSURI)
	c.SecretHash = nilIfEmpty(c.SecretHash)
	c.GrantTypes, c.Scopes, c.Audiences = nilIfEmpty(c.GrantTypes), nilIfEmpty(c.Scopes), nilIfEmpty(c.Audiences)
	c.RedirectURIs, c.PostLogoutRedirectURIs = nilIfEmpty(c.RedirectURIs), nilIfEmpty(c.PostLogoutRedirectURIs)
	c.CreatedAt = fromNull(created)
	return c, err
}

// CreateClient implements idp.ClientStore. An empty SecretHash is stored as
// NULL and read back as nil; empty lists read back as nil.
func (s *Store) CreateClient(ctx context.Context, c idp.Client) error {
	return s.run(ctx, "create client", func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx,
			`INSERT INTO clients (`+clientColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
			c.ID, nilIfEmpty(c.SecretHash), c.Public,
			emptyIfNil(c.GrantTypes), emptyIfNil(c.Scopes), emptyIfNil(c.Audiences),
			c.TokenAlg, c.CreatedAt,
			c.Name, emptyIfNil(c.RedirectURIs), emptyIfNil(c.PostLogoutRedirectURIs), c.FirstParty, c.Introspect,
			c.AuthMethod, c.JWKS, c.RequireDPoP, c.JWKSURI)
		return err
	})
}

// ClientByID implements idp.ClientStore.
func (s *Store) ClientByID(ctx context.Context, id string) (idp.Client, error) {
	var c idp.Client
	err := s.run(ctx, "client by id", func(ctx context.Context) error {
		var err error
		c, err = scanClient(s.pool.QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1`, id))
		return err
	})
	return c, err
}

// Clients implements idp.ClientStore, ordered byte-wise by ID.
func (s *Store) Clients(ctx context.Context) ([]idp.Client, error) {
	var clients []idp.Client
	err := s.run(ctx, "list clients", func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, `SELECT `+clientColumns+` FROM clients ORDER BY id COLLATE "C"`)
		if err != nil {
			return err
		}
		clients, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (idp.Client, error) { return scanClient(r) })
		return err
	})
	return clients, err
}

// DeleteClient implements idp.ClientStore. The client's families and their
// tokens, its authorization codes and its consents go with it through ON
// DELETE CASCADE, within the one statement.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.run(ctx, "delete client", func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, `DELETE FROM clients WHERE id = $1`, id)
		if err == nil && tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		return err
	})
}

// SetClientKeys implements idp.ClientStore.
func (s *Store) SetClientKeys(ctx context.Context, id, jwks string) error {
	return s.run(ctx, "set client keys", func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, `UPDATE clients SET jwks = $2, jwks_uri = '' WHERE id = $1 AND auth_method = 'private_key_jwt'`, id, jwks)
		if err == nil && tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		return err
	})
}

// SetClientKeysURI implements idp.ClientStore.
func (s *Store) SetClientKeysURI(ctx context.Context, id, uri string) error {
	return s.run(ctx, "set client keys uri", func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, `UPDATE clients SET jwks_uri = $2, jwks = '' WHERE id = $1 AND auth_method = 'private_key_jwt'`, id, uri)
		if err == nil && tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		return err
	})
}
