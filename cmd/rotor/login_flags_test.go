package main

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rotor-idp/rotor/idp"
)

// TestLoginSettingsFlags covers the flags of issue 11: --trusted-proxies
// and --forwarded-header, and the argon2id settings, checked by the one
// function serve and the users commands share.
func TestLoginSettingsFlags(t *testing.T) {
	tests := []struct {
		name        string
		args        []string
		env         map[string]string
		wantTrusted []string
		wantHeader  string
		wantErr     string
	}{
		{name: "defaults", wantHeader: "X-Forwarded-For"},
		{name: "trusted proxies", args: []string{"--trusted-proxies", "10.0.0.0/8, 192.0.2.1"},
			wantTrusted: []string{"10.0.0.0/8", "192.0.2.1/32"}, wantHeader: "X-Forwarded-For"},
		{name: "from the environment", env: map[string]string{"ROTOR_TRUSTED_PROXIES": "2001:db8::/32", "ROTOR_FORWARDED_HEADER": "forwarded"},
			wantTrusted: []string{"2001:db8::/32"}, wantHeader: "Forwarded"},
		{name: "not a CIDR", args: []string{"--trusted-proxies", "proxy.internal"}, wantErr: "--trusted-proxies"},
		{name: "unknown header", args: []string{"--forwarded-header", "X-Real-IP"}, wantErr: "--forwarded-header"},
		{name: "memory below 1 MiB", args: []string{"--argon2-memory", "512"}, wantErr: "out of range"},
		{name: "limit below the setting", args: []string{"--argon2-max-memory", "8192"}, wantErr: "memory 19456 KiB is outside"},
		{name: "limit above the setting", args: []string{"--argon2-max-memory", "131072"}, wantHeader: "X-Forwarded-For"},
		{name: "iterations above their limit", args: []string{"--argon2-iterations", "5", "--argon2-max-iterations", "3"}, wantErr: "iterations 5 are outside"},
		{name: "no lanes", args: []string{"--argon2-parallelism", "0"}, wantErr: "--argon2-parallelism"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := serveCommand.parse(tt.args, func(k string) string { return tt.env[k] }, nil, io.Discard, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			c := in.cfg
			_, _, err = c.argon2()
			var trusted []string
			header := ""
			if err == nil {
				ps, h, perr := c.proxies()
				for _, p := range ps {
					trusted = append(trusted, p.String())
				}
				header, err = h, perr
			}
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
			if diff := cmp.Diff(tt.wantTrusted, trusted); diff != "" {
				t.Errorf("trusted proxies (-want +got):\n%s", diff)
			}
			if header != tt.wantHeader {
				t.Errorf("header %q, want %q", header, tt.wantHeader)
			}
		})
	}
}

// TestUsersShareTheServersArgon2Settings: the users commands register the
// same argon2id flags as serve, so one ROTOR_ARGON2_* environment sets both.
func TestUsersShareTheServersArgon2Settings(t *testing.T) {
	env := map[string]string{"ROTOR_ARGON2_MEMORY": "4096", "ROTOR_ARGON2_ITERATIONS": "3", "ROTOR_ARGON2_MAX_MEMORY": "8192"}
	getenv := func(k string) string { return env[k] }
	serve, err := serveCommand.parse(nil, getenv, nil, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	users, err := usersCommands[0].parse([]string{"alice"}, getenv, nil, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	sp, sl, serr := serve.cfg.argon2()
	up, ul, uerr := users.cfg.argon2()
	if serr != nil || uerr != nil {
		t.Fatal(serr, uerr)
	}
	if diff := cmp.Diff([]any{sp, sl}, []any{up, ul}); diff != "" {
		t.Errorf("serve and users disagree (-serve +users):\n%s", diff)
	}
	if want := (idp.Argon2Limits{MaxMemory: 8192}); sl != want {
		t.Errorf("limits %+v, want %+v", sl, want)
	}
}
