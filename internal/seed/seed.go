package seed

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/rotor-idp/rotor/idp"
)

// Spec is what to generate. Rows are a pure function of the Spec (and its
// Seed), so two runs with the same Spec produce the same database.
type Spec struct {
	Users    int     // users, all with Password
	Clients  int     // confidential clients, all with ClientSecret
	Families int     // refresh-token families, spread over users and clients
	Depth    int     // mean tokens per family (1 to 2×Depth-1, uniform)
	Expired  float64 // share of families already expired, in [0, 1]
	Revoked  float64 // share of families revoked, in [0, 1]
	TTL      time.Duration
	Now      time.Time
	Seed     uint64
}

// Defaults of a Spec's zero fields.
const (
	DefaultTTL   = 30 * 24 * time.Hour
	DefaultDepth = 10
)

// Password and ClientSecret are what every seeded user and client sign in
// with; PasswordHash is computed once per run.
const (
	Password     = "seeded password for load tests"
	ClientSecret = "seeded client secret for load tests"
)

// UserName, UserID and ClientID name the i-th seeded user and client.
func UserName(i int) string { return fmt.Sprintf("seed-user-%08d", i) }

// UserID is the i-th seeded user's id.
func UserID(i int) string { return fmt.Sprintf("seed-u%08d", i) }

// ClientID is the i-th seeded client's id.
func ClientID(i int) string { return fmt.Sprintf("seed-c%05d", i) }

// Stats is what a run inserted.
type Stats struct {
	Users, Clients, Families, Tokens int
	Elapsed                          time.Duration
}

func (s Stats) String() string {
	return fmt.Sprintf("%d users, %d clients, %d families, %d tokens in %v",
		s.Users, s.Clients, s.Families, s.Tokens, s.Elapsed.Round(time.Millisecond))
}

// withDefaults fills zero fields and checks the rest.
func (s Spec) withDefaults() (Spec, error) {
	if s.TTL <= 0 {
		s.TTL = DefaultTTL
	}
	if s.Depth <= 0 {
		s.Depth = DefaultDepth
	}
	if s.Now.IsZero() {
		s.Now = time.Now()
	}
	s.Now = s.Now.UTC().Truncate(time.Microsecond)
	switch {
	case s.Users < 0 || s.Clients < 0 || s.Families < 0:
		return s, errors.New("seed: negative count")
	case s.Families > 0 && (s.Users == 0 || s.Clients == 0):
		return s, errors.New("seed: families need at least one user and one client")
	case s.Expired < 0 || s.Expired > 1 || s.Revoked < 0 || s.Revoked > 1:
		return s, errors.New("seed: shares must be in [0, 1]")
	}
	return s, nil
}

// user is the i-th user's row.
func (s Spec) user(i int, hash string) idp.User {
	return idp.User{ID: UserID(i), Name: UserName(i), PasswordHash: hash, CreatedAt: s.Now, UpdatedAt: s.Now}
}

// clientSecretHash is the stored hash of ClientSecret.
func clientSecretHash() []byte {
	h := sha256.Sum256([]byte(ClientSecret))
	return h[:]
}

// client is the i-th client's row.
func (s Spec) client(i int) idp.Client {
	return idp.Client{
		ID: ClientID(i), SecretHash: clientSecretHash(),
		GrantTypes: []string{"client_credentials", "password", "refresh_token"},
		CreatedAt:  s.Now,
	}
}

// FamilyID is the id of the spec's i-th family.
func (s Spec) FamilyID(i int) (string, error) {
	s, err := s.withDefaults()
	if err != nil {
		return "", err
	}
	return s.family(i, nil).f.ID, nil
}

// familyRows generates family i and its tokens: a chain in which every
// token but the last is spent, the last issued at most a TTL ago.
type familyRows struct {
	f      idp.Family
	tokens []idp.RefreshToken
}

func (s Spec) family(i int, buf []idp.RefreshToken) familyRows {
	r := rand.New(rand.NewPCG(s.Seed, uint64(i)))
	age := time.Duration(r.Int64N(int64(s.TTL)))
	if r.Float64() < s.Expired {
		age = s.TTL + time.Duration(r.Int64N(int64(s.TTL))) // expired up to a TTL ago
	}
	created := s.Now.Add(-age).Truncate(time.Microsecond)
	var random [10]byte // i in the first 5 bytes keeps ids unique
	binary.BigEndian.PutUint64(random[2:], r.Uint64())
	random[0], random[1], random[2], random[3], random[4] = byte(i>>32), byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
	f := idp.Family{
		ID: idp.FamilyIDAt(created, random), ClientID: ClientID(r.IntN(s.Clients)), Subject: UserID(r.IntN(s.Users)),
		AuthTime: created, CreatedAt: created, ExpiresAt: created.Add(s.TTL),
	}
	depth := 1 + r.IntN(2*s.Depth-1)
	// Rotations spread evenly over the family's life so far.
	life := min(age, s.TTL)
	step := life / time.Duration(depth)
	tokens := buf[:0]
	var parent []byte
	for k := range depth {
		issued := created.Add(time.Duration(k) * step).Truncate(time.Microsecond)
		h := sha256.Sum256(fmt.Appendf(nil, "%s/%d/%d", f.ID, k, s.Seed))
		t := idp.RefreshToken{Hash: idp.RefreshKeyAt(issued, h), FamilyID: f.ID, Parent: parent, IssuedAt: issued}
		if k > 0 {
			tokens[k-1].SpentAt = t.IssuedAt
		}
		tokens = append(tokens, t)
		parent = t.Hash
	}
	if r.Float64() < s.Revoked {
		f.RevokedAt, f.RevokeReason = tokens[len(tokens)-1].IssuedAt, "seeded"
	}
	return familyRows{f: f, tokens: tokens}
}
