package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rotor-idp/rotor/idp"
)

// CreateFamily implements idp.RefreshStore. first.FamilyID may be empty (it
// is set to f.ID) but must not name another family. A family for an unknown
// client is refused with an error matching idp.ErrNotFound. A family from a
// password grant is one statement, hence one round trip and one transaction;
// a family from a code first takes a share lock on the code's row (see
// familyCode), in a transaction.
func (s *Store) CreateFamily(ctx context.Context, f idp.Family, first idp.RefreshToken) error {
	const op = "create refresh family"
	if first.FamilyID == "" {
		first.FamilyID = f.ID
	}
	if first.FamilyID != f.ID {
		return errorf(op, nil, "first token names another family")
	}
	if f.CodeHash != nil {
		return s.inTx(ctx, op, func(ctx context.Context, tx pgx.Tx) error {
			if err := familyCode(ctx, tx, op, f); err != nil {
				return err
			}
			return noClient(op, insertFamily(ctx, tx, f, first))
		})
	}
	return s.run(ctx, op, func(ctx context.Context) error {
		return noClient(op, insertUserFamily(ctx, s.pool, op, f, first))
	})
}

// insertUserFamily inserts a family not from a code, in one statement, if
// its subject names no user or an enabled one at f.CredentialVersion. The
// user's row is share-locked until the family is committed: SetUserDisabled
// and SetPassword update that row, so they wait, and their revocation, a
// later statement, sees the family; or they commit first, and the locking
// read, which reads a row changed under it again, finds no such user.
func insertUserFamily(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, op string, f idp.Family, first idp.RefreshToken) error {
	tag, err := q.Exec(ctx,
		`WITH known AS (SELECT 1 FROM users WHERE id = $3),
		 ok AS (SELECT 1 FROM users WHERE id = $3 AND NOT disabled AND credential_version = $15 FOR SHARE),
		 f AS (
		   INSERT INTO refresh_families
		     (id, client_id, subject, scope, auth_time, created_at, expires_at, revoked_at, revoke_reason, session_id, code_hash, jkt)
		   SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $16
		   WHERE EXISTS (SELECT 1 FROM ok) OR NOT EXISTS (SELECT 1 FROM known)
		   RETURNING id)
		 INSERT INTO refresh_tokens (hash, family_id, issued_at, spent_at)
		 SELECT $12, f.id, $13, $14 FROM f`,
		f.ID, f.ClientID, f.Subject, f.Scope, f.AuthTime, f.CreatedAt, f.ExpiresAt,
		nullTime(f.RevokedAt), f.RevokeReason, f.SessionID, nilIfEmpty(f.CodeHash),
		first.Hash, first.IssuedAt, nullTime(first.SpentAt), f.CredentialVersion, f.JKT)
	if err == nil && tag.RowsAffected() == 0 {
		return newError(op, idp.ErrRevoked, errors.New("the user is disabled or their password changed"))
	}
	return err
}

// insertFamily inserts the family and its first token in one statement.
func insertFamily(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, f idp.Family, first idp.RefreshToken) error {
	_, err := q.Exec(ctx,
		`WITH f AS (
		   INSERT INTO refresh_families
		     (id, client_id, subject, scope, auth_time, created_at, expires_at, revoked_at, revoke_reason, session_id, code_hash, jkt)
		   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $15)
		   RETURNING id)
		 INSERT INTO refresh_tokens (hash, family_id, issued_at, spent_at)
		 SELECT $12, f.id, $13, $14 FROM f`,
		f.ID, f.ClientID, f.Subject, f.Scope, f.AuthTime, f.CreatedAt, f.ExpiresAt,
		nullTime(f.RevokedAt), f.RevokeReason, f.SessionID, nilIfEmpty(f.CodeHash),
		first.Hash, first.IssuedAt, nullTime(first.SpentAt), f.JKT)
	return err
}

// noClient maps a foreign-key violation (the family's client is gone) to
// idp.ErrNotFound.
func noClient(op string, err error) error {
	if isForeignKey(err) {
		return newError(op, idp.ErrNotFound, errors.New("no such client"))
	}
	return err
}

// familyCode checks that the family's code was redeemed by its client and is
// not revoked, holding a share lock on the code's row until the family is
// committed. Every revocation of a code updates its row, so it waits for
// that lock, and its family update, a later statement with a fresh
// snapshot, sees the new family; or it committed first, and the locking
// read here sees the revocation.
func familyCode(ctx context.Context, tx pgx.Tx, op string, f idp.Family) error {
	var (
		clientID, reason  string
		redeemed, revoked pgtype.Timestamptz
	)
	err := tx.QueryRow(ctx,
		`SELECT client_id, redeemed_at, revoked_at, revoke_reason FROM auth_codes WHERE hash = $1 FOR SHARE`,
		f.CodeHash).Scan(&clientID, &redeemed, &revoked, &reason)
	switch {
	case errors.Is(err, pgx.ErrNoRows) || err == nil && (clientID != f.ClientID || !redeemed.Valid):
		return newError(op, idp.ErrNotFound, errors.New("no authorization code redeemed by this client has this hash"))
	case err != nil:
		return err
	case revoked.Valid && reason == idp.ReasonCodeReuse:
		return newError(op, idp.ErrCodeReused, nil)
	case revoked.Valid:
		return newError(op, idp.ErrRevoked, errors.New("the authorization code was revoked"))
	}
	return nil
}

// stateQuery reads a token, its family and its successor in one statement,
// hence from one snapshot. A token's successor is its latest child that is
// still unspent: refresh_successors links an unspent token to its parent,
// and spending the token removes the link. A token can have several children
// (a retry within the reuse interval replaces the first successor, spending
// it): the successor is the one linked last. The token's own parent is not
// read (its link, if any, is of no use to a decision about it).
const stateQuery = `
SELECT f.id, f.client_id, f.subject, f.scope, f.auth_time, f.created_at, f.expires_at, f.revoked_at, f.revoke_reason,
       f.session_id, f.code_hash, f.jkt,
       t.hash, t.issued_at, t.spent_at,
       s.hash, s.parent, s.issued_at, s.spent_at,
       COALESCE(u.disabled, false)
FROM refresh_tokens t
JOIN refresh_families f ON f.id = t.family_id
LEFT JOIN users u ON u.id = f.subject
LEFT JOIN LATERAL (
    SELECT c.hash, l.parent, c.issued_at, c.spent_at
    FROM refresh_successors l JOIN refresh_tokens c ON c.hash = l.child
    WHERE l.parent = t.hash
    ORDER BY l.seq DESC
    LIMIT 1
) s ON true
WHERE t.hash = $1`

func readState(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, hash []byte) (idp.RefreshState, error) {
	return scanState(q.QueryRow(ctx, stateQuery, hash))
}

// scanState reads one row of stateQuery.
func scanState(row pgx.Row) (idp.RefreshState, error) {
	var (
		st                                 idp.RefreshState
		f                                  = &st.Family
		t                                  = &st.Token
		succ                               idp.RefreshToken
		authTime, created, expires, revoke pgtype.Timestamptz
		tIssued, tSpent, sIssued, sSpent   pgtype.Timestamptz
	)
	err := row.Scan(
		&f.ID, &f.ClientID, &f.Subject, &f.Scope, &authTime, &created, &expires, &revoke, &f.RevokeReason,
		&f.SessionID, &f.CodeHash, &f.JKT,
		&t.Hash, &tIssued, &tSpent,
		&succ.Hash, &succ.Parent, &sIssued, &sSpent, &st.UserDisabled)
	if err != nil {
		return idp.RefreshState{}, err
	}
	f.AuthTime, f.CreatedAt, f.ExpiresAt, f.RevokedAt = fromNull(authTime), fromNull(created), fromNull(expires), fromNull(revoke)
	t.FamilyID, t.IssuedAt, t.SpentAt = f.ID, fromNull(tIssued), fromNull(tSpent)
	if succ.Hash != nil {
		succ.FamilyID, succ.IssuedAt, succ.SpentAt = f.ID, fromNull(sIssued), fromNull(sSpent)
		st.Successor = &succ
	}
	return st, nil
}

// lockStateQuery is stateQuery taking the row locks of UseRefresh: the
// family's, which serialises every use and revocation of the family, and the
// presented token's. In read committed, a row locked after waiting (or changed
// since the statement's snapshot) is read again in its latest committed
// version, so the family and the token come back current. The successor
// does not: it is not locked, and a child inserted by the transaction we
// waited for is missing from the statement's snapshot. A child only ever
// appears together with the spending of its parent, so a successor can be
// stale only when the token comes back spent; UseRefresh reads the state
// again then, under the locks it now holds.
const lockStateQuery = stateQuery + `
FOR UPDATE OF f, t`

// UseRefresh implements idp.RefreshStore in two round trips: BEGIN and the
// locking read go in one pipeline, the update and COMMIT in another (a third
// reads the state again when the token is already spent, see
// lockStateQuery). Deadlocks and serialisation failures are retried; fn runs
// again each time.
//
// The update's Issue.FamilyID may be empty (it is set to the locked family)
// but must not name another family, whose lock is not held. SpendSuccessor
// without a successor does nothing.
func (s *Store) UseRefresh(ctx context.Context, hash []byte, fn func(idp.RefreshState) (idp.RefreshUpdate, error)) error {
	const op = "use refresh token"
	return s.run(ctx, op, func(ctx context.Context) error {
		pc, err := s.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		// Release destroys a connection left inside a transaction.
		defer pc.Release()
		conn := pc.Conn()
		err = useRefresh(ctx, conn, op, hash, fn)
		if err != nil && conn.PgConn().TxStatus() != 'I' {
			_, _ = conn.Exec(ctx, "rollback")
		}
		return err
	})
}

func useRefresh(ctx context.Context, conn *pgx.Conn, op string, hash []byte, fn func(idp.RefreshState) (idp.RefreshUpdate, error)) error {
	b := &pgx.Batch{}
	b.Queue("begin")
	var st idp.RefreshState
	b.Queue(lockStateQuery, hash).QueryRow(func(row pgx.Row) (err error) {
		st, err = scanState(row)
		return err
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	if !st.Token.SpentAt.IsZero() {
		var err error
		if st, err = readState(ctx, conn, hash); err != nil {
			return err
		}
	}
	u, err := fn(st)
	if err != nil {
		return &callerError{err}
	}
	b = &pgx.Batch{}
	if err := queueUpdate(b, op, st, u); err != nil {
		return err
	}
	var commit pgconn.CommandTag
	b.Queue("commit").Exec(func(ct pgconn.CommandTag) error { commit = ct; return nil })
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	if commit.String() != "COMMIT" {
		return errorf(op, nil, "commit answered %q", commit.String())
	}
	return nil
}

// spendQuery spends a token and removes its link to its parent, which only
// an unspent token needs (see stateQuery). The update changes no indexed
// column, so Postgres can make it a heap-only (HOT) update.
const spendQuery = `WITH spent AS (
    UPDATE refresh_tokens SET spent_at = $2 WHERE hash = $1 AND spent_at IS NULL RETURNING hash)
DELETE FROM refresh_successors WHERE child IN (SELECT hash FROM spent)`

// issueQuery inserts a token and, when it has a parent and is unspent, its
// link to that parent.
const issueQuery = `WITH t AS (
    INSERT INTO refresh_tokens (hash, family_id, issued_at, spent_at) VALUES ($1, $2, $4, $5) RETURNING hash)
INSERT INTO refresh_successors (child, parent, family_id)
SELECT hash, $3, $2 FROM t WHERE $3::bytea IS NOT NULL AND $5::timestamptz IS NULL`

// queueUpdate queues the statements that apply u to the locked state st.
func queueUpdate(b *pgx.Batch, op string, st idp.RefreshState, u idp.RefreshUpdate) error {
	if !u.SpendToken.IsZero() {
		b.Queue(spendQuery, st.Token.Hash, u.SpendToken)
	}
	if !u.SpendSuccessor.IsZero() && st.Successor != nil {
		b.Queue(spendQuery, st.Successor.Hash, u.SpendSuccessor)
	}
	if u.Issue != nil {
		t := *u.Issue
		if t.FamilyID == "" {
			t.FamilyID = st.Family.ID
		}
		if t.FamilyID != st.Family.ID {
			return errorf(op, nil, "issued token names another family")
		}
		b.Queue(issueQuery, t.Hash, t.FamilyID, nilIfEmpty(t.Parent), t.IssuedAt, nullTime(t.SpentAt))
	}
	if !u.RevokeAt.IsZero() {
		b.Queue(`UPDATE refresh_families SET revoked_at = $2, revoke_reason = $3 WHERE id = $1 AND revoked_at IS NULL`,
			st.Family.ID, u.RevokeAt, u.RevokeReason)
	}
	return nil
}

// LookupRefresh implements idp.RefreshStore with one plain SELECT: no lock
// is taken or waited for.
func (s *Store) LookupRefresh(ctx context.Context, hash []byte) (idp.RefreshState, error) {
	var st idp.RefreshState
	err := s.run(ctx, "look up refresh token", func(ctx context.Context) error {
		var err error
		st, err = readState(ctx, s.pool, hash)
		return err
	})
	return st, err
}

// RevokeFamily implements idp.RefreshStore in one statement; its row lock
// makes it wait for a UseRefresh holding the family.
func (s *Store) RevokeFamily(ctx context.Context, id, reason string, at time.Time) error {
	return s.run(ctx, "revoke refresh family", func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx,
			`UPDATE refresh_families
			 SET revoked_at = COALESCE(revoked_at, $2),
			     revoke_reason = CASE WHEN revoked_at IS NULL THEN $3 ELSE revoke_reason END
			 WHERE id = $1`,
			id, at, reason)
		if err == nil && tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		return err
	})
}

// PurgeRefresh implements idp.RefreshStore: families whose expires_at is
// before cutoff go, with their tokens through ON DELETE CASCADE, in short
// batches by one replica at a time (see purge). A replica that finds another
// purging returns 0 at once.
func (s *Store) PurgeRefresh(ctx context.Context, cutoff time.Time) (int, error) {
	return s.purge(ctx, purgeFamilies, cutoff)
}
