package postgres

import (
	"context"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// limitFamiliesQuery revokes the live families of $1 and $2 beyond the
// newest $3. The keys are collected first through refresh_families_live, in
// its order, so the update is primary-key lookups; rows are locked in key
// order, the same order in every concurrent call. A family revoked meanwhile
// by anyone else keeps its first revocation.
const limitFamiliesQuery = `
UPDATE refresh_families SET revoked_at = $4, revoke_reason = $5
WHERE id = ANY(ARRAY(
    SELECT id FROM refresh_families
    WHERE subject = $1 AND client_id = $2 AND revoked_at IS NULL AND expires_at > $4
    ORDER BY created_at DESC, id DESC
    OFFSET $3))
  AND revoked_at IS NULL`

// LimitFamilies implements idp.RefreshStore in one statement. Two calls at
// once read in read committed: the one whose snapshot is later sees every
// family the other saw, and each revokes only families beyond the newest
// keep of its snapshot, so neither revokes one of the final newest keep.
func (s *Store) LimitFamilies(ctx context.Context, subject, clientID string, keep int, at time.Time) (int, error) {
	var n int
	err := s.run(ctx, "limit refresh families", func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, limitFamiliesQuery, subject, clientID, max(keep, 0), at, idp.ReasonFamilyLimit)
		n = int(tag.RowsAffected())
		return err
	})
	return n, err
}
