package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/internal/pgtest"
)

// TestUseRefreshAfterWaiting: UseRefresh locks and reads in one statement, so
// a call that waited for the family lock must still hand fn what the
// transaction it waited for committed — the spent token with its new
// successor, or the revocation — and never the state from before the wait.
func TestUseRefreshAfterWaiting(t *testing.T) {
	child := []byte("child-token-hash-0123456789abcdef")
	tests := []struct {
		name  string
		while func(ctx context.Context, tx pgx.Tx, token []byte) error // the lock holder's change
		check func(t *testing.T, st idp.RefreshState)
	}{
		{
			name: "rotated meanwhile",
			while: func(ctx context.Context, tx pgx.Tx, token []byte) error {
				if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET spent_at = $2 WHERE hash = $1`, token, t0); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (hash, family_id, issued_at) VALUES ($1, 'f1', $2)`, child, t0); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `INSERT INTO refresh_successors (child, parent, family_id) VALUES ($1, $2, 'f1')`, child, token)
				return err
			},
			check: func(t *testing.T, st idp.RefreshState) {
				if !st.Token.SpentAt.Equal(t0) {
					t.Errorf("token SpentAt = %v, want %v", st.Token.SpentAt, t0)
				}
				if st.Successor == nil || string(st.Successor.Hash) != string(child) {
					t.Errorf("successor = %+v, want the child committed while waiting", st.Successor)
				}
			},
		},
		{
			name: "revoked meanwhile",
			while: func(ctx context.Context, tx pgx.Tx, _ []byte) error {
				_, err := tx.Exec(ctx, `UPDATE refresh_families SET revoked_at = $1, revoke_reason = 'test' WHERE id = 'f1'`, t0)
				return err
			},
			check: func(t *testing.T, st idp.RefreshState) {
				if !st.Family.RevokedAt.Equal(t0) {
					t.Errorf("family RevokedAt = %v, want %v", st.Family.RevokedAt, t0)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := pgtest.NewDatabase(t)
			s := open(t, url)
			token := seed(t, s)

			tx := holdInTx(t, url, `SELECT 1 FROM refresh_families WHERE id = 'f1' FOR UPDATE`)
			if err := tt.while(t.Context(), tx, token); err != nil {
				t.Fatal(err)
			}

			seen := make(chan idp.RefreshState, 1)
			done := make(chan error, 1)
			go func() {
				done <- s.UseRefresh(context.Background(), token, func(st idp.RefreshState) (idp.RefreshUpdate, error) {
					select {
					case seen <- st:
					default:
					}
					return idp.RefreshUpdate{}, nil
				})
			}()
			awaitLockWaiter(t, url)
			if err := tx.Commit(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatalf("UseRefresh: %v", err)
			}
			tt.check(t, <-seen)
		})
	}
}

// awaitLockWaiter returns once a session of the database waits for a lock.
// It asks on a connection of its own: inside a transaction pg_stat_activity
// would keep showing its first snapshot.
func awaitLockWaiter(t *testing.T, url string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no session waited for the family lock within 10s")
		}
		time.Sleep(5 * time.Millisecond) // polling the condition, not standing in for it
	}
}
