package postgres_test

import (
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/pgtest"
	"github.com/rotor-idp/rotor/keys"
)

// TestTimePrecisionWithTextProtocol: a URL may select the simple protocol,
// which sends times as text, where the server would round finer digits
// (12:00:00.9999995 to 12:00:01). The store truncates there too, as it
// documents (the conformance suite checks the default, binary protocol).
func TestTimePrecisionWithTextProtocol(t *testing.T) {
	url := pgtest.NewDatabase(t) + "&default_query_exec_mode=simple_protocol"
	in := time.Date(2026, 3, 1, 12, 0, 0, 999999999, time.UTC)
	want := time.Date(2026, 3, 1, 12, 0, 0, 999999000, time.UTC)
	s := open(t, url)
	r := keys.Record{KID: "k", Alg: keys.EdDSA, State: keys.StateNext, PublicJWK: []byte(`{}`), Sealed: []byte("s"), KEKID: "k1", CreatedAt: in, SignableAt: in}
	err := s.UpdateLane(t.Context(), keys.EdDSA, func([]keys.Record) (keys.Change, error) {
		return keys.Change{Insert: []keys.Record{r}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Keys(t.Context())
	if err != nil || len(got) != 1 {
		t.Fatalf("Keys = %v, %v", got, err)
	}
	if !got[0].CreatedAt.Equal(want) || !got[0].SignableAt.Equal(want) {
		t.Errorf("read back created %v, signable %v; want %v (truncated)", got[0].CreatedAt, got[0].SignableAt, want)
	}
}
