package idp

import (
	"encoding/json"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// FuzzParseClientJWKS: whatever a registration is given, what it stores is
// a JWKS of public keys, each with an accepted alg.
func FuzzParseClientJWKS(f *testing.F) {
	for _, s := range []string{
		`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
		`{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`,
		`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}]}`,
		`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`, `{"keys":[]}`, `{}`, `[]`, ``, `{"keys":[{}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, err := ParseClientJWKS(raw)
		if err != nil {
			return
		}
		set, err := jwk.Parse([]byte(out))
		if err != nil {
			t.Fatalf("stored JWKS does not parse: %v", err)
		}
		var probe struct{ Keys []map[string]json.RawMessage }
		_ = json.Unmarshal([]byte(out), &probe)
		for _, k := range probe.Keys {
			for _, m := range privateMembers {
				if _, ok := k[m]; ok {
					t.Fatalf("stored JWKS has private member %q: %s", m, out)
				}
			}
		}
		for i := range set.Len() {
			k, _ := set.Key(i)
			if a, ok := k.Algorithm(); !ok || !validAssertionAlg(a.String()) {
				t.Fatalf("stored key without an accepted alg: %s", out)
			}
		}
	})
}
