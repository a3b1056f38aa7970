package seed

import (
	"context"
	"crypto/sha256"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/rotor-idp/rotor/idp"
	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/sql/postgres"
	"github.com/rotor-idp/rotor/sql/sqlite"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var spec = Spec{Users: 40, Clients: 3, Families: 300, Depth: 4, Expired: 0.25, Revoked: 0.1, Seed: 7,
	Now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}

// check reads the seeded data back through the store and checks what a
// load test relies on: users and clients that sign in with the published
// credentials, token chains whose spent tokens have successors, and the
// expired and revoked shares roughly as asked.
func check(t *testing.T, st Stats, users idp.UserStore, clients idp.ClientStore, refresh idp.RefreshStore) {
	t.Helper()
	spec, err := spec.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{Users: spec.Users, Clients: spec.Clients, Families: spec.Families, Tokens: st.Tokens}
	st.Elapsed = 0
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if st.Tokens < spec.Families || st.Tokens > spec.Families*(2*spec.Depth-1) {
		t.Errorf("%d tokens for %d families of mean depth %d", st.Tokens, spec.Families, spec.Depth)
	}
	u, err := users.UserByName(t.Context(), UserName(spec.Users-1))
	if err != nil || u.ID != UserID(spec.Users-1) || u.PasswordHash != "hash" {
		t.Errorf("UserByName = %+v, %v", u, err)
	}
	c, err := clients.ClientByID(t.Context(), ClientID(0))
	if sum := sha256.Sum256([]byte(ClientSecret)); err != nil || string(c.SecretHash) != string(sum[:]) {
		t.Errorf("ClientByID = %+v, %v", c, err)
	}
	expired, revoked := 0, 0
	for i := range spec.Families {
		rows := spec.family(i, nil)
		last := rows.tokens[len(rows.tokens)-1]
		s, err := refresh.LookupRefresh(t.Context(), last.Hash)
		if err != nil {
			t.Fatalf("family %d: last token: %v", i, err)
		}
		if s.Successor != nil || !s.Token.SpentAt.IsZero() {
			t.Errorf("family %d: last token spent or has a successor", i)
		}
		// The last token's parent is spent and has it as its successor;
		// older tokens are spent with none (their successors are spent).
		if n := len(rows.tokens); n > 1 {
			s, err := refresh.LookupRefresh(t.Context(), rows.tokens[n-2].Hash)
			if err != nil || s.Successor == nil || string(s.Successor.Hash) != string(last.Hash) || s.Token.SpentAt.IsZero() {
				t.Errorf("family %d: the last token's parent %+v, %v; want spent with the last as its successor", i, s, err)
			}
			s, err = refresh.LookupRefresh(t.Context(), rows.tokens[0].Hash)
			if err != nil || (n > 2) != (s.Successor == nil) || s.Token.SpentAt.IsZero() {
				t.Errorf("family %d: first token %+v, %v; want spent", i, s, err)
			}
		}
		if !s.Family.ExpiresAt.After(spec.Now) {
			expired++
		}
		if !s.Family.RevokedAt.IsZero() {
			revoked++
		}
	}
	if expired < 40 || expired > 110 || revoked < 10 || revoked > 55 {
		t.Errorf("%d expired and %d revoked of %d families; want about 25%% and 10%%", expired, revoked, spec.Families)
	}
}

func TestPostgres(t *testing.T) {
	url := pgtest.NewDatabase(t)
	st, err := Postgres(t.Context(), url, spec, "hash")
	if err != nil {
		t.Fatal(err)
	}
	s, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check(t, st, s, s, s)
}

// TestPostgresBulk checks the load that drops the refresh tables' indexes
// and keys: the same rows, and the same indexes and constraints afterwards.
func TestPostgresBulk(t *testing.T) {
	url := pgtest.NewDatabase(t)
	schema := func() []string {
		conn, err := pgx.Connect(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		rows, _ := conn.Query(t.Context(), `
SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
WHERE connamespace = 'public'::regnamespace ORDER BY 1`)
		defs, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return defs
	}
	before := schema()
	old := bulkTokens
	bulkTokens = 1
	defer func() { bulkTokens = old }()
	st, err := Postgres(t.Context(), url, spec, "hash")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, schema()); diff != "" {
		t.Errorf("indexes and constraints after a bulk load (-before +after):\n%s", diff)
	}
	s, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check(t, st, s, s, s)
}

func TestSQLite(t *testing.T) {
	dir := t.TempDir()
	st, err := SQLite(t.Context(), dir, spec, "hash")
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check(t, st, s, s, s)
}

func TestSpecChecks(t *testing.T) {
	for _, s := range []Spec{{Users: -1}, {Families: 1}, {Users: 1, Clients: 1, Expired: 2}} {
		if _, err := s.withDefaults(); err == nil {
			t.Errorf("%+v: no error", s)
		}
	}
}
