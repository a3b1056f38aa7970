package jws

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		in   string
		want *Parts // nil: ErrMalformed
	}{
		{"a.b.c", &Parts{"a", "b", "c", "a.b"}},
		{"eyJ-_.AA.x_-", &Parts{"eyJ-_", "AA", "x_-", "eyJ-_.AA"}},
		{"", nil},
		{"abc", nil},
		{"a.b", nil},
		{"a.b.", nil},
		{".b.c", nil},
		{"a..c", nil},
		{"a.b.c.d", nil},
		{"a.b.c.d.e", nil},
		{"..", nil},
		{"a.b.c=", nil},
		{"a.b+.c", nil},
		{"a .b.c", nil},
		{"a.b.c\n", nil},
		{`{"payload":"a"}`, nil},
		{"a.b.\xff", nil},
		{strings.Repeat(".", 100), nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Split(tt.in)
			if tt.want == nil {
				if err != ErrMalformed {
					t.Fatalf("Split(%q) = %+v, %v; want ErrMalformed", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Split(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(*tt.want, got); diff != "" {
				t.Errorf("Split(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}
