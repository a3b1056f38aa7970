package jwstest

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/internal/jws"
)

func newKey(t *testing.T, alg string, kid string) *Key {
	t.Helper()
	var s crypto.Signer
	var err error
	if alg == jws.RS256 {
		s, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		_, s, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	return &Key{KID: kid, Alg: alg, Signer: s}
}

// TestCatalogue checks the catalogue itself, against jws.Verify with no
// claim checks: names are unique, each case gives a reason or a claim, and
// each verdict is the stated one.
func TestCatalogue(t *testing.T) {
	tg := Target{
		RS256: newKey(t, jws.RS256, "rs"), EdDSA: newKey(t, jws.EdDSA, "ed"),
		AttackerRS256: newKey(t, jws.RS256, "atk-rs"), AttackerEdDSA: newKey(t, jws.EdDSA, "atk-ed"),
		Claims: func() map[string]any {
			now := time.Now()
			return map[string]any{"iss": "https://rotor.example", "aud": "api", "sub": "u", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()}
		},
	}
	trusted := map[string]*jws.Key{}
	for _, k := range []*Key{tg.RS256, tg.EdDSA} {
		vk, err := jws.NewKey(k.Alg, k.Signer.Public())
		if err != nil {
			t.Fatal(err)
		}
		trusted[k.KID] = vk
	}
	cat := Attacks(t, tg)
	names := map[string]bool{}
	for _, tc := range cat.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			if names[tc.Name] {
				t.Errorf("name used twice")
			}
			names[tc.Name] = true
			if (tc.Want == nil) == (tc.Claim == "") {
				t.Fatalf("Want %v, Claim %q: exactly one must be set", tc.Want, tc.Claim)
			}
			_, err := jws.Verify(tc.Token, nil, func(kid string) (*jws.Key, error) {
				if k := trusted[kid]; k != nil {
					return k, nil
				}
				return nil, jws.ErrUnknownKID
			})
			if !errors.Is(err, tc.Want) {
				t.Errorf("jws.Verify error = %v, want %v", err, tc.Want)
			}
		})
	}
	if len(cat.Cases) < 90 {
		t.Errorf("%d cases; the catalogue only grows", len(cat.Cases))
	}
	if cat.CanaryHits() != 0 {
		t.Errorf("canary hit")
	}
}
