package idp

import (
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
)

// FuzzStoredHash: whatever a stored hash says, verify neither panics nor
// runs argon2id outside the limits, and a refused hash still costs the
// dummy (issue 11, finding 5).
func FuzzStoredHash(f *testing.F) {
	const salt, key = "c29tZXNhbHRzb21lc2FsdA", "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
	for _, params := range []string{"m=64,t=1,p=1", "m=4194304,t=1,p=1", "m=64,t=0,p=1", "m=64,t=1,p=0",
		"m=8,t=1,p=1", "m=64,t=1,p=255", "m=-1,t=1,p=1", "m=64,t=1,p=1,x=2", "m=64"} {
		f.Add("$argon2id$v=19$" + params + "$" + salt + "$" + key)
	}
	f.Add("$argon2id$v=18$m=64,t=1,p=1$" + salt + "$" + key)
	f.Add("$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("A", 200))
	f.Add("$argon2id$v=19$m=64,t=1,p=1$$")
	f.Add("")
	cur := argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	limits := Argon2Limits{MaxMemory: 128, MaxIterations: 2, MaxParallelism: 2}
	h := newHasher(cur, limits, 1, time.Second)
	f.Fuzz(func(t *testing.T, stored string) {
		runs := 0
		observe := func(p argon2id.Params) {
			runs++
			if err := CheckArgon2(p, limits); err != nil {
				t.Fatalf("ran argon2id with %+v: %v", p, err)
			}
		}
		h.observe.Store(&observe)
		ok, _, err := h.verify("password", stored)
		if ok && err != nil {
			t.Fatal("accepted a refused hash")
		}
		if runs == 0 {
			t.Fatal("no argon2id work at all")
		}
	})
}
