package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// runNoStore runs a command that must fail or finish before it opens a
// store, with env as its environment.
func runNoStore(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

// TestUsageText pins the usage text the command table generates: the README
// and operators' muscle memory depend on it, so a change should be a
// deliberate one.
func TestUsageText(t *testing.T) {
	const want = `Rotor is a key-rotating identity provider.

Usage:
  rotor serve [flags]                       run the server
  rotor migrate [flags]                     apply database migrations
  rotor users add NAME                      create a user (password on stdin; --email, --display-name)
  rotor users update NAME                   change a profile: --email, --display-name, --email-verified
  rotor users list
  rotor users disable NAME                  disable a user and revoke their refresh tokens
  rotor users enable NAME
  rotor users set-password NAME             change a password (on stdin); revokes refresh tokens
  rotor users consents NAME                 list the clients a user consented to
  rotor users revoke-consent NAME CLIENT    forget a consent and revoke that client's refresh tokens for the user
  rotor clients add ID --grant-types a,b --scopes "x y" --audience a1,a2 [--public] [--token-alg RS256|EdDSA] [--redirect-uris u1,u2] [--first-party] [--name NAME] [--introspect] [--allow-public-password] [--require-dpop] [--auth-method private_key_jwt --jwks-file F | --jwks-uri URL]
  rotor clients set-keys ID --jwks-file F | --jwks-uri URL
  rotor clients list
  rotor clients delete ID
  rotor keys list
  rotor keys rotate [--alg RS256|EdDSA] [--force]
  rotor keys revoke KID                     unpublish a key at once (a KID that starts with - goes after --)
  rotor keys rewrap                         re-encrypt private keys under the first key-encryption key
  rotor keys new-kek                        print a new key-encryption key

Every flag falls back to an environment variable: --jwks-max-age reads
ROTOR_JWKS_MAX_AGE. Admin commands take --json for machine-readable output.
Run "rotor COMMAND -h" for a command's flags.
`
	stdout, _, err := runNoStore(t, nil, "help")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, stdout); diff != "" {
		t.Errorf("rotor help (-want +got):\n%s", diff)
	}
}

// TestEveryCommandParses drives each row of the command table through run:
// -h prints its help and succeeds, and a wrong number of positional
// arguments is a usage error that shows the command line.
func TestEveryCommandParses(t *testing.T) {
	for _, c := range commands {
		t.Run(c.path(), func(t *testing.T) {
			words := strings.Fields(c.path())
			_, stderr, err := runNoStore(t, nil, slices.Concat(words, []string{"-h"})...)
			if err != nil {
				t.Errorf("-h: %v", err)
			}
			if !strings.HasPrefix(stderr, "Usage: "+c.line()+"\n") {
				t.Errorf("-h printed:\n%s", stderr)
			}

			wrong := slices.Concat(words, c.args, []string{"extra"})
			if len(c.args) > 0 {
				wrong = words // no arguments at all
			}
			_, _, err = runNoStore(t, nil, wrong...)
			var ue usageError
			if !errors.As(err, &ue) || err.Error() != "usage: "+c.line() {
				t.Errorf("rotor %s: err = %v (%T), want the usage error %q", strings.Join(wrong, " "), err, err, "usage: "+c.line())
			}
		})
	}
}

func TestUnknownCommands(t *testing.T) {
	tests := []struct {
		args      []string
		wantErr   string
		wantUsage bool // the usage text on stderr
	}{
		{nil, "no command given", true},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`, true},
		{[]string{"users"}, "usage: rotor users add|update|list|disable|enable|set-password|consents|revoke-consent …", false},
		{[]string{"clients"}, "usage: rotor clients add|set-keys|list|delete …", false},
		{[]string{"keys"}, "usage: rotor keys list|rotate|revoke|rewrap|new-kek …", false},
		{[]string{"keys", "frob"}, `unknown keys command "frob"`, false},
		{[]string{"serve", "--no-such-flag"}, "flag provided but not defined: -no-such-flag", false},
		{[]string{"keys", "rotate", "--alg"}, "flag needs an argument: -alg", false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, stderr, err := runNoStore(t, nil, tt.args...)
			var ue usageError
			if !errors.As(err, &ue) || err.Error() != tt.wantErr {
				t.Errorf("err = %v (%T), want the usage error %q", err, err, tt.wantErr)
			}
			if got := strings.Contains(stderr, "Rotor is a key-rotating identity provider."); got != tt.wantUsage {
				t.Errorf("usage text on stderr: %v, want %v", got, tt.wantUsage)
			}
		})
	}
}

// TestFlagsFallBackToEnvironment: a flag not on the command line is read
// from ROTOR_<NAME>, and the command line wins over the environment.
func TestFlagsFallBackToEnvironment(t *testing.T) {
	stdout, _, err := runNoStore(t, map[string]string{"ROTOR_JSON": "true"}, "keys", "new-kek")
	var v struct {
		KEK string `json:"key_encryption_key"`
	}
	if err != nil || json.Unmarshal([]byte(stdout), &v) != nil || v.KEK == "" {
		t.Errorf("ROTOR_JSON=true rotor keys new-kek: %v %q, want JSON", err, stdout)
	}
	stdout, _, err = runNoStore(t, map[string]string{"ROTOR_JSON": "true"}, "keys", "new-kek", "--json=false")
	if err != nil || strings.HasPrefix(stdout, "{") {
		t.Errorf("--json=false over ROTOR_JSON=true: %v %q, want text", err, stdout)
	}
	_, _, err = runNoStore(t, map[string]string{"ROTOR_JWKS_MAX_AGE": "soon"}, "keys", "list")
	if _, ok := err.(usageError); !ok || !strings.Contains(err.Error(), "ROTOR_JWKS_MAX_AGE") {
		t.Errorf("a bad environment value: %v (%T), want a usage error naming the variable", err, err)
	}
	_, _, err = runNoStore(t, map[string]string{"ROTOR_KEY_ALGS": "RS256,HS256"}, "keys", "list")
	if _, ok := err.(usageError); !ok || !strings.Contains(err.Error(), `"HS256"`) {
		t.Errorf("ROTOR_KEY_ALGS with an unknown algorithm: %v (%T), want a usage error naming it", err, err)
	}
}

// A positional argument may start with "-" (a key id can) after "--"; "--"
// given as a flag's value is that value; an unknown flag says how.
func TestParseFlagsTerminator(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		name       string
		positional []string
	}{
		{[]string{"--", "-jT2N0"}, "", []string{"-jT2N0"}},
		{[]string{"--json", "--", "-a", "-b"}, "", []string{"-a", "-b"}},
		{[]string{"a", "--", "-b"}, "", []string{"a", "-b"}},
		{[]string{"-name", "--", "pos"}, "--", []string{"pos"}},
		{[]string{"-name=x", "--", "-pos"}, "x", []string{"-pos"}},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		name := fs.String("name", "", "")
		fs.Bool("json", false, "")
		got, err := parseFlags(fs, tc.args, func(string) string { return "" }, io.Discard)
		if err != nil || *name != tc.name || !slices.Equal(got, tc.positional) {
			t.Errorf("%q: name %q, positional %q, %v; want %q, %q", tc.args, *name, got, err, tc.name, tc.positional)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	_, err := parseFlags(fs, []string{"-jT2N0crvD3UgmBvSO7Q7JMj8VJ6c14yK3WwdNPNdO0"}, func(string) string { return "" }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "goes after --") {
		t.Errorf("a key id without --: %v, want a hint to put it after --", err)
	}
}
