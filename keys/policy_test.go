package keys

import (
	"testing"
	"time"
)

func TestMinPropagationDelay(t *testing.T) {
	if got, want := MinPropagationDelay(5*time.Minute, 30*time.Second), 5*time.Minute+31*time.Second; got != want {
		t.Errorf("MinPropagationDelay = %v, want %v", got, want)
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Policy
		ok   bool
	}{
		{"default-like", testPolicy, true},
		{"no automatic rotation", Policy{PropagationDelay: time.Minute, RetireAfter: time.Hour}, true},
		{"negative", Policy{RotationPeriod: -1, RetireAfter: time.Hour}, false},
		{"no retirement window", Policy{RotationPeriod: time.Hour}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.p.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate = %v, want ok=%t", err, tt.ok)
			}
		})
	}
}
