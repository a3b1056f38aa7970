package idp

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestProfileUpdate(t *testing.T) {
	str := func(s string) *string { return &s }
	yes, no := true, false
	alice := User{ID: "u1", Name: "alice", Email: "alice@example.com", EmailVerified: true, DisplayName: "Alice"}
	tests := []struct {
		name    string
		u       ProfileUpdate
		want    User
		wantErr string
	}{
		{"nothing", ProfileUpdate{}, alice, ""},
		{"display name only", ProfileUpdate{DisplayName: str("Alice Liddell")},
			User{ID: "u1", Name: "alice", Email: "alice@example.com", EmailVerified: true, DisplayName: "Alice Liddell"}, ""},
		{"same email keeps verification", ProfileUpdate{Email: str("alice@example.com")}, alice, ""},
		{"new email is unverified", ProfileUpdate{Email: str("alice@example.org")},
			User{ID: "u1", Name: "alice", Email: "alice@example.org", DisplayName: "Alice"}, ""},
		{"new email, verified", ProfileUpdate{Email: str("alice@example.org"), EmailVerified: &yes},
			User{ID: "u1", Name: "alice", Email: "alice@example.org", EmailVerified: true, DisplayName: "Alice"}, ""},
		{"unverify", ProfileUpdate{EmailVerified: &no},
			User{ID: "u1", Name: "alice", Email: "alice@example.com", DisplayName: "Alice"}, ""},
		{"remove email and name", ProfileUpdate{Email: str(""), DisplayName: str("")}, User{ID: "u1", Name: "alice"}, ""},
		{"verify nothing", ProfileUpdate{Email: str(""), EmailVerified: &yes}, User{}, "without an address"},
		{"display form", ProfileUpdate{Email: str("Alice <alice@example.com>")}, User{}, "plain address"},
		{"no at sign", ProfileUpdate{Email: str("alice")}, User{}, "plain address"},
		{"space", ProfileUpdate{Email: str(" alice@example.com")}, User{}, "plain address"},
		{"two addresses", ProfileUpdate{Email: str("a@example.com, b@example.com")}, User{}, "plain address"},
		{"long email", ProfileUpdate{Email: str(strings.Repeat("a", 250) + "@b.cd")}, User{}, "longer"},
		{"control in name", ProfileUpdate{DisplayName: str("Alice\x1b[31m")}, User{}, "control"},
		{"C1 control in name", ProfileUpdate{DisplayName: str("Alice\u0085")}, User{}, "control"},
		{"name with spaces around", ProfileUpdate{DisplayName: str(" Alice")}, User{}, "space"},
		{"invalid UTF-8", ProfileUpdate{DisplayName: str("\xff")}, User{}, "UTF-8"},
		{"long name", ProfileUpdate{DisplayName: str(strings.Repeat("n", maxDisplayNameLen+1))}, User{}, "longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.u.Check()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Check = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if d := cmp.Diff(tt.want, tt.u.Apply(alice)); d != "" {
				t.Errorf("Apply (-want +got):\n%s", d)
			}
		})
	}
}
