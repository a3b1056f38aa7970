package httpcache

import (
	"net/http"
	"testing"
	"time"
)

func TestFreshness(t *testing.T) {
	const def = 15 * time.Minute
	tests := []struct {
		cacheControl, age string
		want              time.Duration
	}{
		{"public, max-age=300", "", 300 * time.Second},
		{"max-age=60", "20", 40 * time.Second},
		{"public, max-age=600", "100", 500 * time.Second},
		{"max-age=60", "90", 0},
		{"MAX-AGE=5, public", "", 5 * time.Second},
		{`max-age="30"`, "", 30 * time.Second},
		{"max-age=99999999999", "", (1 << 31) * time.Second},
		{"no-store", "", 0},
		{"no-cache, max-age=60", "", 0},
		{"public", "", def},
		{"", "", def},
		{"max-age=-1", "", def},
		{"max-age=abc", "", def},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.cacheControl != "" {
			h.Set("Cache-Control", tt.cacheControl)
		}
		if tt.age != "" {
			h.Set("Age", tt.age)
		}
		if got := Freshness(h, def); got != tt.want {
			t.Errorf("Freshness(%q, Age %q) = %v, want %v", tt.cacheControl, tt.age, got, tt.want)
		}
	}
}
