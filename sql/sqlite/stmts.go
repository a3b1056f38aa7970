package sqlite

import (
	"context"
	"database/sql"
	"errors"
)

// stmts are the statements prepared once per Store: the ones on the token
// endpoint's path, where compiling SQL would be a good part of each call.
// The rest are compiled per call; SQLite compiles in microseconds.
type stmts struct {
	// Writer statements, used inside write transactions via tx.StmtContext,
	// which reuses the writer connection's prepared statement.
	refreshStateW *sql.Stmt
	spendToken    *sql.Stmt
	unlinkToken   *sql.Stmt
	linkToken     *sql.Stmt
	insertToken   *sql.Stmt
	revokeFamily  *sql.Stmt
	insertCode    *sql.Stmt
	insertFamily  *sql.Stmt
	familyCode    *sql.Stmt
	codeByHash    *sql.Stmt
	redeemCode    *sql.Stmt
	exchangeCode  *sql.Stmt
	sessionCode   *sql.Stmt

	// Reader statements.
	refreshStateR *sql.Stmt
	tokenExists   *sql.Stmt
	clientByID    *sql.Stmt
	userByName    *sql.Stmt
	sessionByHash *sql.Stmt
	allKeys       *sql.Stmt
	keysVersion   *sql.Stmt

	all []*sql.Stmt
}

// refreshStateSQL reads a token, its family and its successor in one
// statement, hence from one snapshot. The successor is the unspent child
// linked last (refresh_successors links an unspent token to its parent;
// spending it removes the link; a client that retries within the reuse
// interval leaves several children of one token). "Last" is insertion order,
// the link's rowid, not issued_at: a clock that stepped back must not make an
// older child the successor, and equal issued_at values need a tie-break
// anyway. Since every SQLite index ends with the rowid,
// refresh_successors_parent yields the latest link without a sort. The
// token's own parent is not read.
const refreshStateSQL = `
SELECT f.id, f.client_id, f.subject, f.scope, f.auth_time, f.created_at, f.expires_at, f.revoked_at, f.revoke_reason,
       f.session_id, f.code_hash, f.jkt,
       t.hash, t.issued_at, t.spent_at,
       s.hash, l.parent, s.issued_at, s.spent_at,
       coalesce(u.disabled, 0)
FROM refresh_tokens AS t
JOIN refresh_families AS f ON f.id = t.family_id
LEFT JOIN users AS u ON u.id = f.subject
LEFT JOIN refresh_successors AS l ON l.rowid = (
    SELECT c.rowid FROM refresh_successors AS c
    WHERE c.parent = t.hash
    ORDER BY c.rowid DESC
    LIMIT 1)
LEFT JOIN refresh_tokens AS s ON s.hash = l.child
WHERE t.hash = ?`

const (
	userColumns   = `id, name, password_hash, disabled, created_at, updated_at, email, email_verified, display_name, credential_version`
	clientColumns = `id, secret_hash, public, grant_types, scopes, audiences, token_alg, created_at, ` +
		`name, redirect_uris, post_logout_redirect_uris, first_party, introspect, auth_method, jwks, require_dpop, jwks_uri`
	keyColumns = `kid, alg, state, public_jwk, sealed, kek_id, created_at, activated_at, retired_at, revoked_at, signable_at`
)

func (s *stmts) prepare(ctx context.Context, w, r *sql.DB) error {
	var errs []error
	prep := func(db *sql.DB, query string) *sql.Stmt {
		st, err := db.PrepareContext(ctx, query)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		s.all = append(s.all, st)
		return st
	}
	s.refreshStateW = prep(w, refreshStateSQL)
	s.spendToken = prep(w, `UPDATE refresh_tokens SET spent_at = ? WHERE hash = ? AND spent_at IS NULL`)
	s.unlinkToken = prep(w, `DELETE FROM refresh_successors WHERE child = ?`)
	s.insertToken = prep(w, `INSERT INTO refresh_tokens (hash, family_id, issued_at, spent_at) VALUES (?, ?, ?, ?)`)
	s.linkToken = prep(w, `INSERT INTO refresh_successors (child, parent, family_id) VALUES (?, ?, ?)`)
	s.revokeFamily = prep(w, `UPDATE refresh_families SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL`)
	s.insertCode = prep(w, insertCodeSQL)
	s.insertFamily = prep(w, `
INSERT INTO refresh_families (id, client_id, subject, scope, auth_time, created_at, expires_at, revoked_at, revoke_reason, session_id, code_hash, jkt)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	s.familyCode = prep(w, `SELECT client_id, redeemed_at, revoked_at, revoke_reason FROM auth_codes WHERE hash = ?`)
	s.codeByHash = prep(w, `SELECT `+codeColumns+` FROM auth_codes WHERE hash = ? AND client_id = ?`)
	s.redeemCode = prep(w, `UPDATE auth_codes SET redeemed_at = ? WHERE hash = ?`)
	s.sessionCode = prep(w, `SELECT `+sessionColumns+` FROM browser_sessions
WHERE hash = ?1 AND idle_expires_at > ?2 AND expires_at > ?2`)
	s.exchangeCode = prep(w, `UPDATE auth_codes SET redeemed_at = ?3
WHERE hash = ?1 AND client_id = ?2 AND redeemed_at IS NULL AND revoked_at IS NULL AND expires_at > ?3
RETURNING `+codeColumns)

	s.refreshStateR = prep(r, refreshStateSQL)
	s.tokenExists = prep(r, `SELECT 1 FROM refresh_tokens WHERE hash = ?`)
	s.clientByID = prep(r, `SELECT `+clientColumns+` FROM clients WHERE id = ?`)
	s.userByName = prep(r, `SELECT `+userColumns+` FROM users WHERE name = ?`)
	s.sessionByHash = prep(r, `SELECT `+sessionColumns+` FROM browser_sessions
WHERE hash = ?1 AND idle_expires_at > ?2 AND expires_at > ?2`)
	s.allKeys = prep(r, `SELECT `+keyColumns+` FROM signing_keys ORDER BY alg, created_at, kid`)
	s.keysVersion = prep(r, `SELECT version FROM signing_keys_version WHERE id = 1`)
	return errors.Join(errs...)
}

func (s *stmts) close() {
	for _, st := range s.all {
		_ = st.Close()
	}
}
