package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// limitFamiliesSQL revokes the live families of ?3 and ?4 beyond the newest
// ?5, read through refresh_families_live in its order (creation time, then
// insertion order).
const limitFamiliesSQL = `
UPDATE refresh_families SET revoked_at = ?1, revoke_reason = ?2
WHERE rowid IN (
    SELECT rowid FROM refresh_families
    WHERE subject = ?3 AND client_id = ?4 AND revoked_at IS NULL AND expires_at > ?1
    ORDER BY created_at DESC, rowid DESC
    LIMIT -1 OFFSET ?5)`

// LimitFamilies implements idp.RefreshStore in one write transaction, which
// SQLite serialises with every other.
func (s *Store) LimitFamilies(ctx context.Context, subject, clientID string, keep int, at time.Time) (int, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var n int64
	err := s.write(ctx, false, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, limitFamiliesSQL, micros(at), idp.ReasonFamilyLimit, subject, clientID, max(keep, 0))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, s.mapErr(ctx, "limit refresh families", err)
	}
	return int(n), nil
}
