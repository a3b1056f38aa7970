package idp

import (
	"slices"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
)

// BenchmarkFailedLoginCost measures what a wrong password costs against
// stored hashes of several parameter sets, as a ratio to an unknown user
// timed just before it (x-unknown, the median ratio; 1.0 means no timing
// oracle). "-before" is the verification alone, as before the top-up
// (issue 11, finding 4); "-costlier" is a stored hash dearer than the
// current settings, which nothing can make cheaper (SECURITY.md).
//
//	go test -run '^$' -bench BenchmarkFailedLoginCost -count 5 ./idp/
func BenchmarkFailedLoginCost(b *testing.B) {
	cur := DefaultArgon2
	h := newHasher(cur, Argon2Limits{}.WithDefaults(cur), 1, time.Second)
	hashWith := func(m, t uint32) string {
		p := cur
		p.Memory, p.Iterations = m, t
		s, err := HashPassword("the real password", p)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	cases := []struct {
		name string
		hash string
	}{
		{"current", hashWith(cur.Memory, cur.Iterations)},
		{"cli-1MiB-t1", hashWith(1024, 1)},
		{"one-pass-19MiB-t1", hashWith(cur.Memory, 1)},
		{"owasp-12MiB-t3", hashWith(12<<10, 3)},
		{"owasp-46MiB-t1-costlier", hashWith(46<<10, 1)},
	}
	type run struct {
		name  string
		check func()
	}
	var runs []run
	for _, c := range cases {
		runs = append(runs,
			run{c.name, func() { h.verify("wrong", c.hash) }},
			run{c.name + "-before", func() { _, _, _ = argon2id.CheckHash("wrong", c.hash) }})
	}
	for _, c := range runs {
		b.Run(c.name, func(b *testing.B) {
			// The median of per-pair ratios: a pair shares the machine's
			// load of the moment, and the median ignores the pairs that a
			// burst of other work split.
			ratios := make([]float64, 0, b.N)
			for range b.N {
				t := time.Now()
				h.verify("wrong", "")
				unknown := time.Since(t)
				t = time.Now()
				c.check()
				ratios = append(ratios, float64(time.Since(t))/float64(unknown))
			}
			slices.Sort(ratios)
			b.ReportMetric(ratios[len(ratios)/2], "x-unknown")
		})
	}
}
