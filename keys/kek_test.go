package keys

import (
	"bytes"
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func kekBytes(t *testing.T, entry string) []byte {
	t.Helper()
	_, b64, _ := strings.Cut(entry, ":")
	raw, err := decodeKEK(b64)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestParseKEKs(t *testing.T) {
	// A key as `rotor keys new-kek` writes it: base64url, which is also
	// a valid id.
	urlKey := base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	tests := []struct {
		name    string
		in      string
		wantIDs []string
		wantErr string // substring
	}{
		{name: "one", in: testKEK1, wantIDs: []string{"k1"}},
		{name: "several, primary first", in: testKEK2 + "," + testKEK1 + "," + testKEK4, wantIDs: []string{"k2", "k1", "k4"}},
		{name: "whitespace around entries", in: " \n" + testKEK1 + " , " + testKEK2 + "\n", wantIDs: []string{"k1", "k2"}},
		{name: "id charset", in: "Ab_9-z:" + strings.TrimPrefix(testKEK1, "k1:"), wantIDs: []string{"Ab_9-z"}},
		{name: "empty", in: "  ", wantErr: "no key-encryption keys configured"},
		{name: "no separator", in: strings.TrimPrefix(testKEK1, "k1:"), wantErr: "entry 1 is not of the form id:base64key"},
		{name: "empty id", in: ":" + strings.TrimPrefix(testKEK1, "k1:"), wantErr: "entry 1: id must be"},
		{name: "bad id", in: "k 1:" + strings.TrimPrefix(testKEK1, "k1:"), wantErr: "entry 1: id must be"},
		{name: "duplicate id", in: testKEK1 + "," + testKEK3, wantErr: "entry 2 has the id of entry 1"},
		{name: "short key", in: "k1:" + base64.StdEncoding.EncodeToString(make([]byte, 16)), wantErr: "entry 1: key is 16 bytes, want 32"},
		{name: "not base64", in: "k1:not*base64!", wantErr: "entry 1: key is not valid base64"},
		// The key is a valid id (base64url), and "k1" no key: the error
		// must not call the key an id and print it.
		{name: "written backwards", in: urlKey + ":k1", wantErr: "entry 1: key is"},
		{name: "written backwards, twice", in: urlKey + ":k1," + urlKey + ":k1", wantErr: "entry 1: key is"},
		{name: "backwards, second entry", in: testKEK2 + "," + urlKey + ":kek-2", wantErr: "entry 2: key is not valid base64"},
		{name: "empty entry", in: testKEK1 + ",", wantErr: "entry 2 is not of the form"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKEKs(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseKEKs error = %v, want it to contain %q", err, tt.wantErr)
				}
				// An error must never echo key material, even when the
				// input was malformed.
				for _, part := range regexp.MustCompile(`[A-Za-z0-9+/_=-]{12,}`).FindAllString(tt.in, -1) {
					if strings.Contains(err.Error(), part) {
						t.Errorf("error %q echoes input %q", err, part)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKEKs: %v", err)
			}
			if diff := cmp.Diff(tt.wantIDs, got.IDs()); diff != "" {
				t.Errorf("IDs (-want +got):\n%s", diff)
			}
			if got.Primary() != tt.wantIDs[0] {
				t.Errorf("Primary = %q, want %q", got.Primary(), tt.wantIDs[0])
			}
		})
	}
}

func TestGenerateKEK(t *testing.T) {
	a, err := GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("two GenerateKEK calls returned the same entry")
	}
	if !regexp.MustCompile(`^kek-[0-9a-f]{8}:[A-Za-z0-9_-]{43}$`).MatchString(a) {
		t.Fatalf("GenerateKEK = %q, not id:base64url(32 bytes)", a)
	}
	set, err := ParseKEKs(a + "," + b)
	if err != nil {
		t.Fatalf("ParseKEKs(generated): %v", err)
	}
	if id, _, _ := strings.Cut(a, ":"); set.Primary() != id {
		t.Errorf("Primary = %q, want %q", set.Primary(), id)
	}
}

func TestSealOpen(t *testing.T) {
	plaintext := []byte("pkcs8 private key bytes")
	keks := mustKEKs(t, testKEK1+","+testKEK2)
	sealed, kekID, err := keks.seal("kidA", plaintext)
	if err != nil {
		t.Fatal(err)
	}
	if kekID != "k1" {
		t.Errorf("sealed under %q, want primary k1", kekID)
	}
	if bytes.Contains(sealed, plaintext) {
		t.Fatal("sealed blob contains the plaintext")
	}
	if want := 12 + len(plaintext) + 16; len(sealed) != want {
		t.Errorf("len(sealed) = %d, want nonce(12)+plaintext+tag(16) = %d", len(sealed), want)
	}
	again, _, _ := keks.seal("kidA", plaintext)
	if bytes.Equal(sealed[:12], again[:12]) {
		t.Error("two seals used the same nonce")
	}

	t.Run("round trip", func(t *testing.T) {
		got, err := keks.open("kidA", kekID, sealed)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(plaintext, got); diff != "" {
			t.Errorf("open (-want +got):\n%s", diff)
		}
	})
	t.Run("KEK rotation: old KEK opens after a new primary is added", func(t *testing.T) {
		rotated := mustKEKs(t, testKEK4+","+testKEK1)
		got, err := rotated.open("kidA", "k1", sealed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, plaintext) {
			t.Fatal("wrong plaintext")
		}
		if _, id, _ := rotated.seal("kidA", plaintext); id != "k4" {
			t.Errorf("new primary seals under %q, want k4", id)
		}
	})

	tests := []struct {
		name    string
		keks    string
		kid     string
		kekID   string
		sealed  []byte
		wantErr string
	}{
		{
			name: "AAD binds the kid: blob moved to another key", keks: testKEK1, kid: "kidB", kekID: "k1", sealed: sealed,
			wantErr: `keys: cannot decrypt signing key kidB: key-encryption key "k1" does not match, or the sealed key was altered (wrong --key-encryption-keys?)`,
		},
		{
			name: "wrong key under the same id", keks: testKEK3, kid: "kidA", kekID: "k1", sealed: sealed,
			wantErr: `keys: cannot decrypt signing key kidA: key-encryption key "k1" does not match, or the sealed key was altered (wrong --key-encryption-keys?)`,
		},
		{
			name: "KEK not configured", keks: testKEK2 + "," + testKEK4, kid: "kidA", kekID: "k1", sealed: sealed,
			wantErr: `keys: cannot decrypt signing key kidA: key-encryption key "k1" is not configured (configured: k2, k4; wrong --key-encryption-keys?)`,
		},
		{
			name: "bit flip", keks: testKEK1, kid: "kidA", kekID: "k1", sealed: flip(sealed, 20),
			wantErr: `keys: cannot decrypt signing key kidA: key-encryption key "k1" does not match, or the sealed key was altered (wrong --key-encryption-keys?)`,
		},
		{
			name: "truncated", keks: testKEK1, kid: "kidA", kekID: "k1", sealed: sealed[:20],
			wantErr: `keys: cannot decrypt signing key kidA: sealed key is truncated (20 bytes)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := mustKEKs(t, tt.keks)
			got, err := k.open(tt.kid, tt.kekID, tt.sealed)
			if err == nil {
				t.Fatalf("open succeeded: %q", got)
			}
			if !errors.Is(err, ErrDecrypt) {
				t.Errorf("error %v does not wrap ErrDecrypt", err)
			}
			if diff := cmp.Diff(tt.wantErr, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			assertRedacted(t, err, plaintext, kekBytes(t, testKEK1), kekBytes(t, testKEK3))
		})
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}

func TestKEKSetRedaction(t *testing.T) {
	set := mustKEKs(t, testKEK1+","+testKEK2)
	secrets := [][]byte{kekBytes(t, testKEK1), kekBytes(t, testKEK2)}
	assertRedacted(t, set, secrets...)
	assertRedacted(t, *set, secrets...)
	assertRedacted(t, (*KEKSet)(nil), secrets...)

	if got, want := set.String(), "KEKSet(k1,k2; keys redacted)"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	j, err := set.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(`{"primary":"k1","ids":["k1","k2"],"keys":"redacted"}`, string(j)); diff != "" {
		t.Errorf("MarshalJSON (-want +got):\n%s", diff)
	}
}
