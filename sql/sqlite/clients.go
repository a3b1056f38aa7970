package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/rotor-idp/rotor/idp"
)

// CreateClient stores c; ErrConflict if its ID is taken.
func (s *Store) CreateClient(ctx context.Context, c idp.Client) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	lists := make([]string, 5)
	for i, l := range [][]string{c.GrantTypes, c.Scopes, c.Audiences, c.RedirectURIs, c.PostLogoutRedirectURIs} {
		var err error
		if lists[i], err = encodeList(l); err != nil {
			return fmt.Errorf("sqlite: create client: %w", err)
		}
	}
	var secret any // NULL, not an empty blob, for "no secret"
	if len(c.SecretHash) > 0 {
		secret = c.SecretHash
	}
	err := s.write(ctx, true, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO clients (`+clientColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, secret, boolInt(c.Public), lists[0], lists[1], lists[2], c.TokenAlg, micros(c.CreatedAt),
			c.Name, lists[3], lists[4], boolInt(c.FirstParty), boolInt(c.Introspect), c.AuthMethod, c.JWKS, boolInt(c.RequireDPoP), c.JWKSURI)
		return err
	})
	return s.mapErr(ctx, "create client", err)
}

// ClientByID returns the client; ErrNotFound if none.
func (s *Store) ClientByID(ctx context.Context, id string) (idp.Client, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var c idp.Client
	err := s.retry(ctx, func() error {
		var err error
		c, err = scanClient(s.stmts.clientByID.QueryRowContext(ctx, id))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return idp.Client{}, fmt.Errorf("sqlite: no client %q: %w", id, idp.ErrNotFound)
	}
	return c, s.mapErr(ctx, "read client", err)
}

// Clients returns every client, ordered by ID (byte order).
func (s *Store) Clients(ctx context.Context) ([]idp.Client, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var clients []idp.Client
	err := s.retry(ctx, func() error {
		clients = nil
		rows, err := s.r.QueryContext(ctx, `SELECT `+clientColumns+` FROM clients ORDER BY id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanClient(rows)
			if err != nil {
				return err
			}
			clients = append(clients, c)
		}
		return rows.Err()
	})
	return clients, s.mapErr(ctx, "list clients", err)
}

// DeleteClient deletes the client; its families and their tokens, its
// authorization codes and its consents go with it through ON DELETE
// CASCADE, in the same statement.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	err := s.write(ctx, true, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM clients WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = fmt.Errorf("sqlite: no client %q: %w", id, idp.ErrNotFound)
			}
			return err
		}
		return nil
	})
	return s.mapErr(ctx, "delete client", err)
}

func scanClient(row scanner) (idp.Client, error) {
	var (
		c                         idp.Client
		grants, scopes, audiences string
		redirects, logouts        string
		created                   int64
	)
	if err := row.Scan(&c.ID, &c.SecretHash, &c.Public, &grants, &scopes, &audiences, &c.TokenAlg, &created,
		&c.Name, &redirects, &logouts, &c.FirstParty, &c.Introspect, &c.AuthMethod, &c.JWKS, &c.RequireDPoP, &c.JWKSURI); err != nil {
		return idp.Client{}, err
	}
	var err error
	if c.GrantTypes, err = decodeList("clients.grant_types", grants); err != nil {
		return idp.Client{}, err
	}
	if c.Scopes, err = decodeList("clients.scopes", scopes); err != nil {
		return idp.Client{}, err
	}
	if c.Audiences, err = decodeList("clients.audiences", audiences); err != nil {
		return idp.Client{}, err
	}
	if c.RedirectURIs, err = decodeList("clients.redirect_uris", redirects); err != nil {
		return idp.Client{}, err
	}
	if c.PostLogoutRedirectURIs, err = decodeList("clients.post_logout_redirect_uris", logouts); err != nil {
		return idp.Client{}, err
	}
	c.CreatedAt = fromMicros(created)
	return c, nil
}

// SetClientKeys replaces the JWKS of a private_key_jwt client; ErrNotFound
// if there is no such client.
func (s *Store) SetClientKeys(ctx context.Context, id, jwks string) error {
	return s.setClientKeys(ctx, `UPDATE clients SET jwks = ?, jwks_uri = '' WHERE id = ? AND auth_method = 'private_key_jwt'`, id, jwks)
}

// SetClientKeysURI points a private_key_jwt client at the URL of its JWKS;
// ErrNotFound if there is no such client.
func (s *Store) SetClientKeysURI(ctx context.Context, id, uri string) error {
	return s.setClientKeys(ctx, `UPDATE clients SET jwks_uri = ?, jwks = '' WHERE id = ? AND auth_method = 'private_key_jwt'`, id, uri)
}

func (s *Store) setClientKeys(ctx context.Context, query, id, val string) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	err := s.write(ctx, true, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, val, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = fmt.Errorf("sqlite: no private_key_jwt client %q: %w", id, idp.ErrNotFound)
			}
			return err
		}
		return nil
	})
	return s.mapErr(ctx, "set client keys", err)
}
