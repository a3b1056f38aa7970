package main

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rotor-idp/rotor/keys"
)

// TestSessionFlags covers --session-idle-ttl and --session-ttl, and the
// page-form keys serve derives from the key-encryption keys.
func TestSessionFlags(t *testing.T) {
	tests := []struct {
		name             string
		args             []string
		env              map[string]string
		wantIdle, wantTT time.Duration
		wantErr          string
	}{
		{name: "defaults", wantIdle: 8 * time.Hour, wantTT: 7 * 24 * time.Hour},
		{name: "flags", args: []string{"--session-idle-ttl", "30m", "--session-ttl", "12h"}, wantIdle: 30 * time.Minute, wantTT: 12 * time.Hour},
		{name: "environment", env: map[string]string{"ROTOR_SESSION_IDLE_TTL": "1h", "ROTOR_SESSION_TTL": "1h"}, wantIdle: time.Hour, wantTT: time.Hour},
		{name: "idle longer than absolute", args: []string{"--session-idle-ttl", "2h", "--session-ttl", "1h"}, wantErr: "--session-idle-ttl"},
		{name: "zero", args: []string{"--session-ttl", "0"}, wantErr: "--session-ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := serveCommand.parse(tt.args, func(k string) string { return tt.env[k] }, nil, io.Discard, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			s, err := in.cfg.serveSettings(io.Discard)
			if tt.wantErr != "" {
				var ue usageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want a usage error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			keks, err := keys.ParseKEKs("a:" + strings.Repeat("A", 43) + ",b:" + strings.Repeat("B", 43))
			if err != nil {
				t.Fatal(err)
			}
			cfg := in.cfg.idpConfig(s, "http://127.0.0.1:8080", keks)
			if cfg.SessionIdleTTL != tt.wantIdle || cfg.SessionTTL != tt.wantTT {
				t.Errorf("session TTLs %v, %v; want %v, %v", cfg.SessionIdleTTL, cfg.SessionTTL, tt.wantIdle, tt.wantTT)
			}
			if len(cfg.FormKeys) != 2 || len(cfg.FormKeys[0]) != 32 {
				t.Errorf("form keys: %d, want one per key-encryption key", len(cfg.FormKeys))
			}
		})
	}
}
